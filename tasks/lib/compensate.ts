/**
 * "Remove what the join made" (compensation, for an instance that is gone): deletes the
 * computer objects that carry this instance's marker inside the managed OUs and are proven
 * ours (tasks/lib/safety.ts mayReuseOrDelete: GUID or creator), the DNS records of their names
 * in our zone (tasks/lib/delete.ts deleteOurDnsRecords), and the join secret. Idempotent: a
 * second run finds nothing to delete. A launch hook is answered lifecycle.onJoinFailure (default
 * ABANDON; false when the instance is already gone). Runs in the routed directory (the handler).
 * No AWS or LDAP import: ports only.
 */
import type { CompensationInput, CompensationOutput } from './contracts';
import type { Deps } from './deps';
import { deleteOurDnsRecords } from './delete';
import { answerLifecycle, onJoinFailure } from './lifecycle';
import type { Marker } from './ports';
import { mayReuseOrDelete } from './safety';

export async function removeJoinArtifacts(input: CompensationInput, deps: Deps): Promise<CompensationOutput> {
  const { instanceId, account, region } = input.instance;
  const marker: Marker = { account, region, instanceId };
  const { directory, settings, logger } = deps;
  const managed = settings.directory.managedOus;
  const ours = (await directory.findByMarker(marker)).filter((o) => {
    const d = mayReuseOrDelete(o, marker, { managedOus: managed });
    if (!d.delete) logger.warn('Computer object left alone', { dn: o.dn, rule: d.rule, reason: d.reason });
    return d.delete;
  });
  const deleted: string[] = [];
  for (const o of ours) {
    await deleteOurDnsRecords(o.name, deps);
    await directory.deleteComputer(o.dn);
    deleted.push(o.dn);
  }
  await deps.fleetFor(input.instance).deleteJoinSecret(instanceId);
  const why = input.error?.Cause ?? input.error?.Error ?? 'the instance is gone';
  const reason = `${instanceId}: ${why.length > 300 ? `${why.slice(0, 300)}…` : why}`;
  logger.info('Join artifacts removed', { deleted });
  // The instance may still exist (shutting down): its launch hook must not wait for its timeout.
  const answer = await answerLifecycle(input.instance, 'launch', onJoinFailure(deps), deps);
  return { outcome: 'abandoned', reason, deleted, ...(answer ? { lifecycle: answer } : {}) };
}
