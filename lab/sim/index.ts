/** In-memory fakes of the ports, on a virtual clock: workflow tests and scale runs. */
export { cleanUpFailedJoins, type RecordingHistory } from './cleanup';
export { SimClaims, SimExecutionHistory, type ClaimsOp } from './claims';
export { SimDirectory, type DirectoryOp, type SimComputer, type SimDirectoryOptions } from './directory';
export {
  SimFleet,
  type CommandScript,
  type FleetOp,
  type SimCommand,
  type SimFleetOptions,
  type SimInstance,
  type SimInstanceSpec,
  type ThrottleModel,
} from './fleet';
export { SeededRandom, SIM_BASE_DN, SIM_COMPUTER_OU, simDeps, simSettings, type SimDeps, type SimDepsOptions } from './deps';
