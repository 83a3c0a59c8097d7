/**
 * "Record result": tags the instance as joined (status, computer name, execution, time),
 * deletes the one-time password parameter (already dead: adcli rotated the machine password)
 * and marks the join claim joined; then a launch hook is answered CONTINUE (the instance goes
 * InService only now that directory users resolve). The directory it joined is tagged
 * (<prefix>directory, tasks/lib/routing.ts): leave and reconcile look there. Its result is the
 * join execution's output.
 * No AWS or LDAP import: ports only.
 */
import type { RecordResultInput, RecordResultOutput } from './contracts';
import type { Deps } from './deps';
import { CLAIM_RETENTION_SECONDS, claimKey } from './claims';
import { ClaimLost } from './errors';
import { answerLifecycle } from './lifecycle';
import { directoryTagKey } from './routing';
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
    ...(instance.directory !== undefined ? { [directoryTagKey(deps.settings.tags.statusPrefix)]: instance.directory } : {}),
  };
  await fleet.tagInstance(instance.instanceId, tags);
  await fleet.deleteJoinSecret(instance.instanceId);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const marked = await deps.claims.update(claimKey(instance), executionName, {
    status: 'joined',
    phase: 'joined-verified',
    computerName: computer.name,
    ttl: now + CLAIM_RETENTION_SECONDS,
  });
  if (!marked) throw new ClaimLost(`The join claim of ${instance.instanceId} is no longer held by ${executionName}; the instance is tagged joined anyway.`);
  deps.logger.info('Join recorded', { computerName: computer.name });
  const answer = await answerLifecycle(instance, 'launch', 'CONTINUE', deps);
  return {
    outcome: 'joined',
    instanceId: instance.instanceId,
    computerName: computer.name,
    commandId: input.join.commandId,
    tags,
    ...(answer ? { lifecycle: answer } : {}),
  };
}
