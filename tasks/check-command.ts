/**
 * "Check join command" / "Check verification": reads the command's status. running → the
 * workflow waits and checks again; past the command deadline → CommandTimedOut; undeliverable
 * on a gone instance → InstanceGone. Output is a bounded, scrubbed tail.
 */
import { defaultDeps } from './adapters/default-deps';
import { checkCommand } from './lib/commands';
import type { DepsProvider } from './lib/deps';
import { makeTask } from './lib/task';
import { parseCheckCommandInput } from './lib/validate';

export { checkCommand };

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Check command' }, deps, parseCheckCommandInput, checkCommand);
export const handler = makeHandler(defaultDeps);
