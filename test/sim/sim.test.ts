/**
 * The simulated world behaves like the real ports where the workflows depend on it: AD's page
 * limit and name rules, SSM's agent coming Online on the clock, commands finishing on the clock,
 * throttling that refills with (virtual) time.
 */
import { simDeps } from '../../lab/sim';
import { ComputerNameConflict, DirectoryRefused, DirectoryUnavailable, Throttled } from '../../tasks/lib/errors';

const ID = 'i-0123456789abcdef0';
const marker = { account: '123456789012', region: 'eu-west-1', instanceId: ID };

describe('SimDirectory', () => {
  test('listManaged pages at the server page size and lists only marked objects in managed OUs', async () => {
    const sim = simDeps({ maxPageSize: 2 });
    const ou = sim.settings.directory.computerOu;
    for (let i = 0; i < 5; i++) sim.directory.add({ name: `PC${i}`, ou, markerText: `adjoin:v1:123456789012:eu-west-1:i-0000000${i}` });
    sim.directory.holdName('FOREIGN'); // no marker, outside the OU
    const pages: number[] = [];
    for await (const page of sim.directory.listManaged()) pages.push(page.length);
    expect(pages).toEqual([2, 2, 1]);
  });

  test('refuses what AD refuses, and goes down for exactly N calls', async () => {
    const sim = simDeps();
    const spec = { ou: sim.settings.directory.computerOu, name: 'ABCDEFGHIJKLMNO', fqdn: 'x.lab', marker, description: 'd', password: 'p' };
    await sim.directory.createComputer(spec);
    await expect(sim.directory.createComputer(spec)).rejects.toThrow(ComputerNameConflict);
    await expect(sim.directory.createComputer({ ...spec, name: 'ABCDEFGHIJKLMNOP' })).rejects.toThrow(DirectoryRefused);
    await expect(sim.directory.createComputer({ ...spec, name: 'OTHER', ou: 'OU=Elsewhere,DC=lab,DC=example,DC=com' })).rejects.toThrow(DirectoryRefused);
    sim.directory.down(2);
    await expect(sim.directory.findByMarker(marker)).rejects.toThrow(DirectoryUnavailable);
    await expect(sim.directory.findByName('X')).rejects.toThrow(DirectoryUnavailable);
    expect((await sim.directory.findByMarker(marker)).map((o) => o.name)).toEqual(['ABCDEFGHIJKLMNO']);
  });
});

describe('SimFleet', () => {
  test('the SSM agent comes Online after its delay on the virtual clock; a command finishes after its duration', async () => {
    const sim = simDeps();
    sim.fleet.addInstance({ instanceId: ID, ssmOnlineAfterSeconds: 90 });
    const fleet = sim.fleetFor(marker);
    expect(await fleet.ssmPingStatus(ID)).toBe('NotRegistered');
    sim.clock.advance(89);
    expect(await fleet.ssmPingStatus(ID)).toBe('NotRegistered');
    sim.clock.advance(1);
    expect(await fleet.ssmPingStatus(ID)).toBe('Online');

    sim.fleet.script('verify', { status: 'Failed', exitCode: 2, durationSeconds: 30, stdout: 'nope' });
    const id = await fleet.sendCommand({ instanceId: ID, document: 'verify', parameters: {}, comment: 'c', timeoutSeconds: 600 });
    expect((await fleet.getCommand(id, ID)).status).toBe('InProgress');
    sim.clock.advance(30);
    expect(await fleet.getCommand(id, ID)).toEqual({ status: 'Failed', exitCode: 2, stdout: 'nope', stderr: '' });
  });

  test('another account or Region does not see the instance', async () => {
    const sim = simDeps();
    sim.fleet.addInstance({ instanceId: ID });
    expect(await sim.fleetFor({ account: '999999999999', region: 'eu-west-1' }).describeInstance(ID)).toBeUndefined();
    expect(await sim.fleetFor(marker).describeInstance(ID)).toMatchObject({ instanceId: ID, state: 'running' });
  });

  test('throttling: a token bucket that refills with virtual time', async () => {
    const sim = simDeps();
    sim.fleet.addInstance({ instanceId: ID });
    sim.fleet.throttle('describeInstance', { ratePerSecond: 1, burst: 2 });
    const fleet = sim.fleetFor(marker);
    await fleet.describeInstance(ID);
    await fleet.describeInstance(ID);
    await expect(fleet.describeInstance(ID)).rejects.toThrow(Throttled);
    sim.clock.advance(1);
    await expect(fleet.describeInstance(ID)).resolves.toBeDefined();
    expect(sim.fleet.throttled.get('describeInstance')).toBe(1);
  });
});
