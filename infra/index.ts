/**
 * adjoin as a library: add `Adjoin` (or `AdjoinStack` / `AdjoinMemberStack`) to your own CDK app.
 *
 *   import { Adjoin, loadConfigFile } from './infra';
 *   new Adjoin(myStack, 'Adjoin', { config: loadConfigFile('adjoin.json') });
 */
export { Adjoin, type AdjoinProps, ec2StatePattern } from './adjoin';
export { AdjoinMemberStack, AdjoinStack, addNagChecks, createStacks, type AdjoinMemberStackProps, type AdjoinStackProps } from './stacks';
export {
  Defaults,
  configFromContext,
  loadConfigFile,
  resolveConfig,
  resourceNames,
  toSettings,
  type AdjoinConfigInput,
  type ResolvedConfig,
} from './config';
export { synthesizeDefinitions, type ConfigOverrides, type Definitions, type SynthesizeOptions } from './asl';
export { TaskNeeds, type Need } from './permissions';
