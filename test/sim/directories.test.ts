/**
 * Many directories over the simulated world: leave finds an instance's objects in the directory
 * recorded at join (or in every directory), delete acts in the object's own directory, and
 * reconcile pages every directory with that directory's managed OUs.
 */
import { SIM_COMPUTER_OU, simDeps, simSettings, type SimDirectory } from '../../lab/sim';
import { deleteComputerObject } from '../../tasks/lib/delete';
import { findComputerObjects } from '../../tasks/lib/leave';
import { findStaleObjects } from '../../tasks/lib/reconcile';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const EU_BASE = 'DC=eu,DC=example,DC=com';
const EU_OU = `OU=Linux,${EU_BASE}`;
const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const markerText = (id: string) => `adjoin:v1:${ACCOUNT}:${REGION}:${id}`;
const OLD = new Date('2020-01-01T00:00:00Z');

function world() {
  const base = simSettings();
  const eu = { ...base.directory, domain: 'eu.example.com', netbiosName: 'EU', baseDn: EU_BASE, computerOu: EU_OU, managedOus: [EU_OU] };
  const sim = simDeps({ settings: { directories: { lab: base.directory, eu }, reconcile: { ...base.reconcile, graceSeconds: 0 } } });
  const euDirectory = sim.directoryFor('eu') as SimDirectory;
  return { sim, euDirectory };
}

describe('many directories', () => {
  test('leave looks in the directory recorded on the instance, and the delete acts there', async () => {
    // Prepare
    const { sim, euDirectory } = world();
    euDirectory.add({ name: 'EUA', ou: EU_OU, markerText: markerText(A), whenCreated: OLD });
    sim.directory.add({ name: 'LABA', ou: SIM_COMPUTER_OU, markerText: markerText(A), whenCreated: OLD }); // same marker, other directory
    sim.fleet.addInstance({ instanceId: A, state: 'terminated', tags: { 'adjoin:directory': 'eu' } });
    const instance = { instanceId: A, account: ACCOUNT, region: REGION };
    // Act
    const found = await findComputerObjects({ instance }, sim);
    const deleted = await deleteComputerObject({ object: found.objects[0]!, instance }, sim);
    // Assess
    expect(found).toMatchObject({ outcome: 'delete', objects: [{ dn: `CN=EUA,${EU_OU}`, name: 'EUA', directory: 'eu' }] });
    expect(deleted).toMatchObject({ deleted: true });
    expect(await euDirectory.findByName('EUA')).toBeUndefined();
    expect(await sim.directory.findByName('LABA')).toBeDefined();
  });

  test('without the tag, leave finds the objects in every directory', async () => {
    // Prepare
    const { sim, euDirectory } = world();
    euDirectory.add({ name: 'EUA', ou: EU_OU, markerText: markerText(A), whenCreated: OLD });
    sim.directory.add({ name: 'LABA', ou: SIM_COMPUTER_OU, markerText: markerText(A), whenCreated: OLD });
    // Act
    const found = await findComputerObjects({ instance: { instanceId: A, account: ACCOUNT, region: REGION } }, sim);
    // Assess
    expect(found.objects.map((o) => `${o.directory}:${o.name}`)).toEqual(['lab:LABA', 'eu:EUA']);
  });

  test('reconcile pages every directory with its own managed OUs', async () => {
    // Prepare
    const { sim, euDirectory } = world();
    euDirectory.add({ name: 'EUA', ou: EU_OU, markerText: markerText(A), whenCreated: OLD });
    euDirectory.add({ name: 'EUX', ou: `OU=Other,${EU_BASE}`, markerText: markerText(B), whenCreated: OLD }); // outside eu's managed OU
    sim.directory.add({ name: 'LABB', ou: SIM_COMPUTER_OU, markerText: markerText(B), whenCreated: OLD });
    // Act: neither instance exists in EC2, so both marked objects in managed OUs are stale
    const scan = await findStaleObjects({}, sim);
    // Assess
    expect(scan).toMatchObject({ scanned: 2, stale: 2, ldapPages: 2 }); // EUX is outside eu's managed OU: never listed
    expect(scan.staleList.map(({ object: { guid, ...o } }) => ({ ...o, guidOk: GUID.test(guid ?? '') }))).toEqual([
      { dn: `CN=LABB,${SIM_COMPUTER_OU}`, name: 'LABB', directory: 'lab', guidOk: true },
      { dn: `CN=EUA,${EU_OU}`, name: 'EUA', directory: 'eu', guidOk: true },
    ]);
  });
});
