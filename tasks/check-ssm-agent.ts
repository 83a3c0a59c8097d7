/**
 * "Wait for SSM Online": the instance's SSM agent must be Online before a command is sent.
 * Not yet Online → SsmAgentNotOnline (retried by the state machine up to the deadline, then the
 * execution fails here, redrivable). Instance gone → InstanceGone (compensation).
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { withHeartbeat } from './lib/lifecycle';
import { checkSsmAgent } from './lib/ssm-agent';
import { makeTask } from './lib/task';
import { parseCheckSsmAgentInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Wait for SSM Online' }, deps, parseCheckSsmAgentInput, withHeartbeat(checkSsmAgent));
export const handler = makeHandler(defaultDeps);
