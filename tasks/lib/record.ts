/**
 * "Record result": tags the instance as joined (status, computer name, execution, time) and
 * deletes the one-time password parameter (already dead: adcli rotated the machine password).
 * No AWS or LDAP import: ports only.
 */
import type { RecordResultInput, RecordResultOutput } from './contracts';
import type { Deps } from './deps';
import { statusTagKeys } from './tags';

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
