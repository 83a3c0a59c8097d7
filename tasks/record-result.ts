/**
 * "Record result": tags the instance as joined (status, computer name, execution, time) and
 * deletes the one-time password parameter (already dead: adcli rotated the machine password).
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { recordResult } from './lib/record';
import { makeTask } from './lib/task';
import { parseRecordResultInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Record result' }, deps, parseRecordResultInput, recordResult);
export const handler = makeHandler(defaultDeps);
