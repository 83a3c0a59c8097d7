/**
 * "Record result": tags the instance as joined (status, computer name, execution, time) and
 * deletes the one-time password parameter (already dead: adcli rotated the machine password).
 */
import { defaultDeps } from './adapters/default-deps';
import type { RecordResultOutput } from './lib/contracts';
import type { Deps, DepsProvider } from './lib/deps';
import { statusTagKeys } from './lib/tags';
import { makeTask } from './lib/task';
import { parseRecordResultInput, type RecordResultInput } from './lib/validate';

export async function recordResult(input: RecordResultInput, deps: Deps): Promise<RecordResultOutput> {
  const { instance, computer, executionName } = input;
  const fleet = deps.fleetFor(instance);
  const keys = statusTagKeys(deps.settings.tags.statusPrefix);
  const tags = {
    [keys.status]: 'joined',
    [keys.computerName]: computer.name,
    [keys.execution]: executionName,
    [keys.joinedAt]: deps.clock.now().toISOString(),
  };
  await fleet.tagInstance(instance.instanceId, tags);
  await fleet.deleteJoinSecret(instance.instanceId);
  deps.logger.info('Join recorded', { computerName: computer.name });
  return { outcome: 'joined', computerName: computer.name, tags };
}

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Record result' }, deps, parseRecordResultInput, recordResult);
export const handler = makeHandler(defaultDeps);
