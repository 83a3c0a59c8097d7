/**
 * "Prepare computer object": makes (or reuses) the computer object the instance will join
 * with, with a fresh one-time password, and stores that password as a SecureString parameter
 * for the join document. Idempotent: a re-run finds its own object by the marker and resets the
 * password. It records the object (GUID, DN, name) in the join claim: the cleanup and later
 * rounds touch only that object. The reuse path follows the delete rules (full marker, inside a
 * managed OU, the recorded GUID when there is one) and never resets the password of a joined
 * instance's object. "Run join document" calls it again for a fresh one-time password when a
 * new round starts after the old password was revoked. The password is never logged or
 * returned. No AWS or LDAP import: ports only.
 */
import type { PrepareComputerInput, PrepareComputerOutput } from './contracts';
import type { Deps } from './deps';
import { ClaimLost, ComputerNameConflict, DirectoryRefused } from './errors';
import { markerDescription } from './marker';
import { computerNameCandidates, hostFqdn } from './naming';
import { generateOneTimePassword } from './otp';
import { holdClaim, ourObjects } from './claim';
import { claimKey } from './claims';
import type { Claim, ComputerObject, Marker } from './ports';

type Made = { object: ComputerObject; action: 'created' | 'reused' };

/**
 * Our existing object (oldest first when there are several), reset with the password. Where the
 * directory refuses the reset (AD hardening can deny an object's creator the reset right), the
 * object — ours, for this very instance — is deleted so that it is made again.
 */
async function reuse(marker: Marker, password: string, deps: Deps, claim?: Claim): Promise<Made | undefined> {
  const mine = await ourObjects(marker, claim, deps);
  mine.sort((a, b) => a.whenCreated.getTime() - b.whenCreated.getTime());
  const object = mine[0];
  if (!object) return undefined;
  let wrote: void | { domainController?: string };
  try {
    wrote = await deps.directory.resetPassword(object.dn, password);
  } catch (err) {
    if (!(err instanceof DirectoryRefused)) throw err;
    deps.logger.warn('Password reset refused: making the object again', { dn: object.dn, cause: err.message });
    await deps.directory.deleteComputer(object.dn);
    return undefined;
  }
  return { object: { ...object, ...(wrote?.domainController ? { domainController: wrote.domainController } : {}) }, action: 'reused' };
}

async function create(marker: Marker, password: string, deps: Deps, claim?: Claim): Promise<Made> {
  const { directory: dir, settings } = deps;
  const holders: string[] = [];
  for (const name of computerNameCandidates(marker.instanceId, settings.naming.prefix)) {
    const holder = await dir.findByName(name);
    if (holder) {
      holders.push(`${name} held by ${holder.dn}`);
      continue;
    }
    try {
      const object = await dir.createComputer({
        ou: settings.directory.computerOu,
        name,
        fqdn: hostFqdn(name, settings.directory.domain),
        marker,
        description: markerDescription(marker),
        password,
      });
      return { object, action: 'created' };
    } catch (err) {
      if (!(err instanceof ComputerNameConflict)) throw err;
      // Someone took the name between our look-up and our add: maybe a twin execution of ours.
      const again = await reuse(marker, password, deps, claim);
      if (again) return again;
      holders.push(`${name}: ${err.message}`);
    }
  }
  throw new ComputerNameConflict(
    `Every candidate computer name for ${marker.instanceId} is taken by an object that is not ours: ${holders.join('; ')}. ` +
      'Delete or rename those objects, or set another naming prefix, then redrive.',
  );
}

export async function prepareComputer(input: PrepareComputerInput, deps: Deps): Promise<PrepareComputerOutput> {
  const { instanceId, account, region } = input.instance;
  const marker: Marker = { account, region, instanceId };
  const claim = await holdClaim(input.instance, input.executionName, deps);
  if (claim.status === 'joined')
    throw new ClaimLost(`${instanceId} is already joined (execution ${claim.execution}): its computer object's password is not reset.`);
  const password = generateOneTimePassword(deps.random);
  const made = (await reuse(marker, password, deps, claim)) ?? (await create(marker, password, deps, claim));
  const secretName = await deps.fleetFor(input.instance).putJoinSecret(instanceId, password);
  const { name, dn } = made.object;
  const recorded = await deps.claims.update(claimKey(input.instance), input.executionName, {
    dn,
    computerName: name,
    phase: 'prepared',
    ...(made.object.guid !== undefined ? { objectGuid: made.object.guid } : {}),
    ...(input.instance.directory !== undefined ? { directory: input.instance.directory } : {}),
  });
  if (!recorded) throw new ClaimLost(`The join claim of ${instanceId} changed hands while its computer object was prepared; this execution stops.`);
  const fqdn = made.object.dnsHostName?.toLowerCase() ?? hostFqdn(name, deps.settings.directory.domain);
  deps.logger.info('Computer object ready', { computerName: name, dn, action: made.action });
  // The DC that wrote the object: the join goes through it (another may not have it yet).
  return { name, dn, fqdn, action: made.action, secretName, ...(made.object.domainController ? { domainController: made.object.domainController } : {}) };
}
