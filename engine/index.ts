/** The local runtime: run the synthesized ASL in process (see engine.ts). */
export { LocalEngine, type EngineOptions, type StartOptions } from './engine';
export { ScaledClock, VirtualClock, realClock } from './clock';
export { ExecutionStore, defaultStore, executionsDir, getExecution, listExecutions, type ListFilter } from './store';
export { timeline, statePath, transitions, type TimelineRow } from './timeline';
export { asDefinition, assertSupported, unsupportedFeatures, type AslDefinition, type Json } from './asl';
export type { TaskHandler } from './handlers';
export type { ExecutionEvent, ExecutionRecord, ExecutionStatus, RedriveInfo } from './record';
