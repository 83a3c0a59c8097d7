/**
 * "Remove what the join made" (compensation, for an instance that is gone): deletes the
 * computer objects that carry this instance's marker inside the managed OUs (nothing else),
 * their DNS records, and the join secret. Idempotent: a second run finds nothing to delete.
 * No AWS or LDAP import: ports only.
 */
import type { CompensationInput, CompensationOutput } from './contracts';
import type { Deps } from './deps';
import { isInside } from './dn';
import { DirectoryRefused } from './errors';
import { sameMarker } from './marker';
import type { Marker } from './ports';

export async function removeJoinArtifacts(input: CompensationInput, deps: Deps): Promise<CompensationOutput> {
  const { instanceId, account, region } = input.instance;
  const marker: Marker = { account, region, instanceId };
  const { directory, settings, logger } = deps;
  const managed = settings.directory.managedOus;
  const ours = (await directory.findByMarker(marker)).filter(
    (o) => sameMarker(o.marker, marker) && managed.some((ou) => isInside(o.dn, ou)),
  );
  const deleted: string[] = [];
  for (const o of ours) {
    try {
      await directory.deleteDnsRecords(o.name.toLowerCase());
    } catch (err) {
      if (!(err instanceof DirectoryRefused)) throw err;
      logger.warn('DNS records not removed (no right to delete them)', { computerName: o.name, cause: err.message });
    }
    await directory.deleteComputer(o.dn);
    deleted.push(o.dn);
  }
  await deps.fleetFor(input.instance).deleteJoinSecret(instanceId);
  const why = input.error?.Cause ?? input.error?.Error ?? 'the instance is gone';
  const reason = `${instanceId}: ${why.length > 300 ? `${why.slice(0, 300)}…` : why}`;
  logger.info('Join artifacts removed', { deleted });
  return { outcome: 'abandoned', reason, deleted };
}
