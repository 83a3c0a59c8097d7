/**
 * "Check join command" / "Check verification": reads the command's status. running → the
 * workflow waits and checks again; past the command deadline → CommandTimedOut; undeliverable
 * on a gone instance → InstanceGone. Output is a bounded, scrubbed tail.
 */
import { defaultDeps } from './adapters/default-deps';
import { checkCommand } from './lib/commands';
import type { CheckCommandInput } from './lib/contracts';
import type { DepsProvider } from './lib/deps';
import { makeTask, type TaskMeta } from './lib/task';
import { parseCheckCommandInput } from './lib/validate';

/** The state that runs it (workflows/join.ts): the command's document names it. */
const meta: TaskMeta<CheckCommandInput> = {
  workflow: 'join',
  step: (input) => (input.command.document === 'join' ? 'Check join command' : 'Check verification'),
};

export const makeHandler = (deps: DepsProvider) => makeTask(meta, deps, parseCheckCommandInput, checkCommand);
export const handler = makeHandler(defaultDeps);
