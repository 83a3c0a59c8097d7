/**
 * The lab's second Region (lab/world/fleet.ts labFleetFor, LabFleet({ region })): each lab Region
 * is its own EC2/SSM view over the one lab state. An instance of Region A is "not found" through
 * Region B's view (describe, tag, ping, SendCommand, GetCommandInvocation), and each Region has
 * its own Parameter Store. A record without a Region is LAB_REGION's (every lab instance before).
 * Runs over a lab state written to a temporary folder: no namespaces, no root.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LabAutoScaling } from '../../../lab/world/autoscaling';
import { LabFleet, labFleetFor, labJoinSecretName, readParameter } from '../../../lab/world/fleet';
import { LAB_ACCOUNT, LAB_REGION, LAB_REGION_2, labPaths, type LabPaths } from '../../../lab/world/paths';
import { readState, writeState, type InstanceRecord, type LabState } from '../../../lab/world/state';
import type { Fleet } from '../../../tasks/lib/ports';

const A = 'i-0aaaaaaaaaaaaaaa1'; // LAB_REGION (no region recorded, as every instance before)
const B = 'i-0bbbbbbbbbbbbbbb2'; // LAB_REGION_2

let dir: string;
let paths: LabPaths;
const saved = process.env.ADJOIN_LAB_DIR;

function record(instanceId: string, region?: string): InstanceRecord {
  return {
    instanceId,
    state: 'running',
    tags: {},
    ip: '10.77.0.10',
    hostname: 'ip-10-77-0-10',
    privateDnsName: `ip-10-77-0-10.${region ?? LAB_REGION}.compute.internal`,
    netns: `adjoin-${instanceId}`,
    mountNsFile: path.join(dir, `${instanceId}.mnt`),
    utsNsFile: path.join(dir, `${instanceId}.uts`),
    dir: path.join(dir, 'instances', instanceId),
    keytabFile: path.join(dir, 'instances', instanceId, 'krb5.keytab'),
    launchTime: '2026-11-30T08:00:00.000Z',
    ssmOnlineAt: '2026-11-30T08:00:00.000Z',
    ...(region ? { region } : {}),
  };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-region-'));
  process.env.ADJOIN_LAB_DIR = dir; // setTags (CreateTags) writes the default lab state
  paths = labPaths(dir);
  const state = { version: 1, dir, createdAt: '2026-11-30T08:00:00.000Z', account: LAB_ACCOUNT, region: LAB_REGION, hostIp: '10.77.0.1', instances: { [A]: record(A), [B]: record(B, LAB_REGION_2) } } as unknown as LabState;
  writeState(state, paths);
});
afterEach(() => {
  if (saved === undefined) delete process.env.ADJOIN_LAB_DIR;
  else process.env.ADJOIN_LAB_DIR = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

const views = (fleet: Fleet = new LabFleet({ paths })): { one: Fleet; two: Fleet } => {
  const fleetFor = labFleetFor(fleet);
  return { one: fleetFor({ account: LAB_ACCOUNT, region: LAB_REGION }), two: fleetFor({ account: LAB_ACCOUNT, region: LAB_REGION_2 }) };
};

describe('labFleetFor: a Region-scoped view per lab Region', () => {
  test('describe, ping: each Region sees only its own instances', async () => {
    const { one, two } = views();
    expect((await one.describeInstance(A))?.instanceId).toBe(A);
    expect(await one.describeInstance(B)).toBeUndefined();
    expect((await two.describeInstance(B))?.privateDnsName).toBe(`ip-10-77-0-10.${LAB_REGION_2}.compute.internal`);
    expect(await two.describeInstance(A)).toBeUndefined();
    expect([...(await one.describeInstances([A, B])).keys()]).toEqual([A]);
    expect([...(await two.describeInstances([A, B])).keys()]).toEqual([B]);
    expect(await one.ssmPingStatus(A)).toBe('Online');
    expect(await one.ssmPingStatus(B)).toBe('NotRegistered');
    expect(await two.ssmPingStatus(B)).toBe('Online');
    expect(await two.ssmPingStatus(A)).toBe('NotRegistered');
  });

  test('CreateTags: not found in the other Region, applied in its own', async () => {
    const { one, two } = views();
    await expect(two.tagInstance(A, { k: 'v' })).rejects.toThrow(/InvalidInstanceID\.NotFound/);
    await expect(one.tagInstance(B, { k: 'v' })).rejects.toThrow(/InvalidInstanceID\.NotFound/);
    await two.tagInstance(B, { k: 'two' });
    const s = readState(paths)!;
    expect(s.instances[B]?.tags).toEqual({ k: 'two' });
    expect(s.instances[A]?.tags).toEqual({});
  });

  test('SendCommand to the other Region is refused (InvalidInstanceId); GetCommandInvocation of the other Region does not exist', async () => {
    const { one, two } = views();
    const request = { instanceId: B, document: 'verify' as const, parameters: {}, comment: 'x', timeoutSeconds: 30 };
    await expect(one.sendCommand(request)).rejects.toThrow(/InvalidInstanceId/);
    await expect(two.sendCommand({ ...request, instanceId: A })).rejects.toThrow(/InvalidInstanceId/);
    // A command sent in LAB_REGION_2 (as its record on disk says): only that Region answers for it.
    const commandId = '11111111-2222-4333-8444-555555555555';
    fs.mkdirSync(paths.commandsDir, { recursive: true });
    const rec = { commandId, instanceId: B, document: 'verify', documentName: 'adjoin-verify', parameters: {}, comment: 'x', timeoutSeconds: 30, status: 'Success', exitCode: 0, stdout: 'ok', stderr: '', requestedAt: '2026-11-30T08:00:00.000Z', ownerPid: process.pid, region: LAB_REGION_2 };
    fs.writeFileSync(path.join(paths.commandsDir, `${commandId}.json`), JSON.stringify(rec));
    expect(await two.getCommand(commandId, B)).toMatchObject({ status: 'Success', stdout: 'ok' });
    await expect(one.getCommand(commandId, B)).rejects.toThrow(/InvocationDoesNotExist/);
    // A record without a Region stays LAB_REGION's, as every command before.
    const old: Partial<typeof rec> = { ...rec };
    delete old.region;
    fs.writeFileSync(path.join(paths.commandsDir, `${commandId}.json`), JSON.stringify({ ...old, instanceId: A }));
    expect(await one.getCommand(commandId, A)).toMatchObject({ status: 'Success' });
    await expect(two.getCommand(commandId, A)).rejects.toThrow(/InvocationDoesNotExist/);
  });

  test('each Region has its own Parameter Store', async () => {
    const { one, two } = views();
    const nameB = await two.putJoinSecret(B, 'otp-of-b');
    const nameA = await one.putJoinSecret(A, 'otp-of-a');
    expect(nameB).toBe(labJoinSecretName(B));
    expect(readParameter(nameB, paths, LAB_REGION_2)).toBe('otp-of-b');
    expect(readParameter(nameB, paths)).toBeUndefined();
    expect(readParameter(nameA, paths)).toBe('otp-of-a');
    expect(readParameter(nameA, paths, LAB_REGION_2)).toBeUndefined();
    expect((await one.listOtpParameters()).map((p) => p.name)).toEqual([nameA]);
    expect((await two.listOtpParameters()).map((p) => p.name)).toEqual([nameB]);
    await one.deleteJoinSecret(B); // another Region's: nothing happens to it
    expect(readParameter(nameB, paths, LAB_REGION_2)).toBe('otp-of-b');
    await two.deleteJoinSecret(B);
    expect(readParameter(nameB, paths, LAB_REGION_2)).toBeUndefined();
    expect(readParameter(nameA, paths)).toBe('otp-of-a');
  });

  test('the view also comes through the Auto Scaling wrapper; any other Region or account, or a fleet that is not a LabFleet, has none', async () => {
    const wrapped = views(LabAutoScaling.inLab(dir).fleet(new LabFleet({ paths })));
    expect((await wrapped.two.describeInstance(B))?.instanceId).toBe(B);
    expect(await wrapped.one.describeInstance(B)).toBeUndefined();
    const fleetFor = labFleetFor(new LabFleet({ paths }));
    expect(await fleetFor({ account: LAB_ACCOUNT, region: 'us-east-1' }).describeInstance(B)).toBeUndefined();
    expect(await fleetFor({ account: '999999999999', region: LAB_REGION_2 }).describeInstance(B)).toBeUndefined();
    const other = { describeInstance: () => Promise.resolve({ instanceId: 'x' }) } as unknown as Fleet;
    const plain = labFleetFor(other);
    expect(plain({ account: LAB_ACCOUNT, region: LAB_REGION })).toBe(other);
    expect(await plain({ account: LAB_ACCOUNT, region: LAB_REGION_2 }).describeInstance(B)).toBeUndefined();
  });
});
