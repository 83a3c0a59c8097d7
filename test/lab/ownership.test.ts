/**
 * Ownership is proven, not assumed — on the REAL directory (the lab's Samba AD DC), through the
 * production LdapDirectory over LDAPS as the service account:
 *
 *   - an object the product creates comes back with its objectGUID (checked against
 *     `ldapsearch` in the DC, decoded here independently) and with the service account as its
 *     owner (read with the SD flags control): "created by us";
 *   - an object the Administrator creates with a copied marker (same account, Region, instance)
 *     is foreign: a leave refuses it, it stays;
 *   - a recorded GUID that is not the object's is refused, naming both GUIDs; the right one is
 *     accepted.
 *
 * Measured while building this (Samba 4.17): the owner of an object created by the delegated
 * service account is the account's own SID; one created by the Administrator is owned by
 * Domain Admins (…-512); mS-DS-CreatorSID is not set on either; without the SD flags control
 * the service account reads no nTSecurityDescriptor at all; the whoami extended operation is
 * not supported (the adapter looks its SID up by name). Root only (jest.lab.config.js).
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Client, Control, type ClientOptions } from 'ldapts';
import { LAB_ACCOUNT, LAB_REGION, assertLabRoute, labDeps } from '../../lab/world/fleet';
import { SimFleet } from '../../lab/sim';
import * as world from '../../lab/world';
import { LdapDirectory, TREE_DELETE_OID } from '../../tasks/adapters/ldap-directory';
import type { Deps } from '../../tasks/lib/deps';
import { findComputerObjects } from '../../tasks/lib/leave';
import { formatMarker, MARKER_ATTRIBUTE } from '../../tasks/lib/marker';
import { computerName, hostFqdn } from '../../tasks/lib/naming';
import type { Marker } from '../../tasks/lib/ports';
import { mayReuseOrDelete } from '../../tasks/lib/safety';
import { adminClient, ensureLab } from './helpers';

let restore: () => Promise<void> = () => Promise.resolve();
const made: string[] = [];
const fleet = new SimFleet({ clock: { now: () => new Date() }, account: LAB_ACCOUNT, region: LAB_REGION });

const newInstanceId = (): string => `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
const markerOf = (instanceId: string): Marker => ({ account: LAB_ACCOUNT, region: LAB_REGION, instanceId });

/** objectGUID (base64 from ldapsearch) → canonical text, written here without the adapter's code. */
function canonicalGuid(base64: string): string {
  const b = Buffer.from(base64, 'base64');
  const le = (from: number, to: number): string => Buffer.from([...b.subarray(from, to)].reverse()).toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${b.subarray(8, 10).toString('hex')}-${b.subarray(10, 16).toString('hex')}`;
}

async function guidSeenByTheDc(dn: string): Promise<string> {
  const r = await world.dcLdapSearch(dn, '(objectClass=computer)', ['objectGUID'], { scope: 'base', asAdmin: true });
  const m = /^objectGUID:: (\S+)$/m.exec(r.stdout);
  if (!m?.[1]) throw new Error(`no objectGUID for ${dn}: ${r.stdout} ${r.stderr}`);
  return canonicalGuid(m[1]);
}

/** Deps over the real directory (the production adapter, guarded to the lab DC) and a SimFleet. */
function deps(): Deps {
  const lab = labDeps();
  const directory = new LdapDirectory(lab.settings.directory, {
    createClient: (o: ClientOptions) => {
      assertLabRoute(o.url);
      return new Client(o);
    },
  });
  return { ...lab, directory, fleetFor: fleet.fleetFor };
}

/** Creates an object the way the product does (the adapter's createComputer, as the service account). */
async function createOurs(d: Deps, instanceId: string): Promise<{ dn: string; guid: string | undefined }> {
  const name = computerName(instanceId);
  const o = await d.directory.createComputer({
    ou: d.settings.directory.computerOu,
    name,
    fqdn: hostFqdn(name, d.settings.directory.domain),
    marker: markerOf(instanceId),
    description: `ownership lab test ${instanceId}`,
    password: `Aa1-${randomBytes(24).toString('base64url')}`,
  });
  made.push(o.dn);
  return { dn: o.dn, guid: o.guid };
}

beforeAll(async () => {
  ({ restore } = await ensureLab());
}, 600_000);

afterAll(async () => {
  const c = await adminClient().catch(() => undefined);
  if (c) {
    for (const dn of made) await c.del(dn, new Control(TREE_DELETE_OID, { critical: true })).catch(() => undefined);
    await c.unbind().catch(() => undefined);
  }
  await restore();
}, 300_000);

describe('ownership on the real directory (Samba AD DC, production LDAP adapter)', () => {
  test('an object we create: its objectGUID is the DC\'s, its owner is the service account ("created by us"); a leave deletes it', async () => {
    const d = deps();
    const id = newInstanceId();
    const ours = await createOurs(d, id);
    expect(ours.guid).toBe(await guidSeenByTheDc(ours.dn));

    const [found] = await d.directory.findByMarker(markerOf(id));
    expect(found).toMatchObject({ dn: ours.dn, guid: ours.guid, createdByUs: true });
    expect(found?.ownerSid).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
    expect(found && mayReuseOrDelete(found, markerOf(id), { managedOus: d.settings.directory.managedOus })).toMatchObject({ delete: true });

    fleet.addInstance({ instanceId: id, state: 'terminated' });
    const out = await findComputerObjects({ instance: markerOf(id) }, d);
    expect(out).toMatchObject({ outcome: 'delete', objects: [{ dn: ours.dn, guid: ours.guid }] });
  });

  test('an object the Administrator created with a copied marker: foreign, a leave refuses it and it stays', async () => {
    const d = deps();
    const id = newInstanceId();
    const name = computerName(id);
    const dn = `CN=${name},${d.settings.directory.computerOu}`;
    const admin = await adminClient();
    try {
      await admin.add(dn, [
        new Attribute({ type: 'objectClass', values: ['computer'] }),
        new Attribute({ type: 'sAMAccountName', values: [`${name}$`] }),
        new Attribute({ type: 'userAccountControl', values: ['4096'] }),
        new Attribute({ type: MARKER_ATTRIBUTE, values: [formatMarker(markerOf(id))] }),
      ]);
      made.push(dn);
    } finally {
      await admin.unbind().catch(() => undefined);
    }
    const [found] = await d.directory.findByMarker(markerOf(id));
    expect(found).toMatchObject({ dn, createdByUs: false, marker: markerOf(id) });
    expect(found?.guid).toBe(await guidSeenByTheDc(dn));
    expect(found?.ownerSid).toMatch(/-512$/); // Domain Admins own what an administrator creates

    fleet.addInstance({ instanceId: id, state: 'terminated' });
    const out = await findComputerObjects({ instance: markerOf(id) }, d);
    expect(out).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(out.reason).toMatch(/not created by the service account/);
    expect((await world.dcLdapSearch(dn, '(objectClass=computer)', ['cn'], { scope: 'base', asAdmin: true })).stdout).toContain(`cn: ${name}`);
  });

  test('a recorded GUID that is not the object\'s is refused, naming both; the right one is accepted', async () => {
    const d = deps();
    const id = newInstanceId();
    const ours = await createOurs(d, id);
    fleet.addInstance({ instanceId: id, state: 'terminated' });
    const other = '00000000-0000-4000-8000-000000000001';
    const refused = await findComputerObjects({ instance: markerOf(id), expectedGuid: other }, d);
    expect(refused).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(refused.reason).toContain(`objectGUID ${ours.guid ?? '?'}, not the recorded ${other}`);
    const accepted = await findComputerObjects({ instance: markerOf(id), expectedGuid: ours.guid ?? '' }, d);
    expect(accepted).toMatchObject({ outcome: 'delete', objects: [{ dn: ours.dn }] });
  });
});
