/**
 * No replication race (issue 12). The product writes a computer object with its one-time
 * password on one DC; a join through another DC that has not replicated it yet fails ("not found
 * in Kerberos database"). With replication DC1 -> DC2 paused, the race is certain: a join
 * through DC2 fails, the product's join (pinned to the DC the adapter reports) succeeds.
 * Root only (jest.lab.config.js), the two-DC lab.
 */
import * as world from '../../lab/world';
import { LabFleet, labDeps } from '../../lab/world/fleet';
import type { PrepareComputerOutput } from '../../tasks/lib/contracts';
import { ensureLab, runDocument } from './helpers';
import { assertTwoDcs, eventually, productComputer, productJoinParameters } from './dc-helpers';

const ms: Record<string, number> = {};
let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
const launched: string[] = [];
const created: string[] = [];
let instanceId = '';
let computer: PrepareComputerOutput & { otp: string };

const onDc = async (dc: string, dn: string): Promise<boolean> => {
  const r = await world.dcLdapSearch(dn, '(objectClass=computer)', ['sAMAccountName'], { scope: 'base', dc });
  return r.exitCode === 0 && r.stdout.includes('sAMAccountName:');
};

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  assertTwoDcs();
  const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'replication' } });
  instanceId = i.instanceId;
  launched.push(instanceId);
  await world.pauseReplicationToDc2();
  computer = await productComputer(fleet, instanceId);
  created.push(computer.dn);
});

afterAll(async () => {
  try {
    await world.resumeReplicationToDc2().catch(() => undefined);
    await fleet.settle();
    for (const id of launched) await world.terminate(id).catch(() => undefined);
    for (const id of launched) await fleet.deleteJoinSecret(id);
    const dir = labDeps().directory;
    for (const dn of created) await dir.deleteComputer(dn).catch(() => undefined);
  } finally {
    await restore();
    process.stderr.write(`lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
});

describe('replication paused: the object is on DC1 only', () => {
  test('the adapter reports the DC that wrote the object (its first reachable URL, DC1)', async () => {
    expect(computer.domainController).toBe('DC1.lab.example.com');
    expect((await world.status()).domain?.replicationPaused).toBe(true);
    expect(await onDc('dc1', computer.dn)).toBe(true);
    expect(await onDc('dc2', computer.dn)).toBe(false);
  });

  test('without pinning to it, a join through DC2 fails: the computer is not in its Kerberos database', async () => {
    const params = { ...productJoinParameters(instanceId, computer), DomainController: 'DC2.lab.example.com' };
    const { result } = await runDocument(fleet, instanceId, 'join', params);
    expect(result).toMatchObject({ status: 'Failed', exitCode: 5 });
    expect(result.stderr).toMatch(/not found in Kerberos database/);
    expect(result.stdout + result.stderr).not.toContain(computer.otp);
  });

  test('pinned to the DC the adapter reported, the join succeeds at once', async () => {
    const params = productJoinParameters(instanceId, computer);
    expect(params.DomainController).toBe('DC1.lab.example.com');
    const { result, ms: joinMs } = await runDocument(fleet, instanceId, 'join', params);
    ms['pinned join'] = joinMs;
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(result.stdout).toContain('joining through DC1.lab.example.com');
    expect(result.stdout).toContain(`joined lab.example.com as ${computer.name}`);
    const conf = await world.exec(instanceId, ['cat', '/etc/sssd/sssd.conf']);
    expect(conf.stdout).toContain('ad_server = dc1.lab.example.com, _srv_');
    expect((await world.exec(instanceId, ['getent', 'passwd', 'alice'])).exitCode).toBe(0);
  });

  test('after resume, DC2 has the object and the join holds through DC2 as well', async () => {
    await world.resumeReplicationToDc2();
    expect((await world.status()).domain?.replicationPaused).toBe(false);
    ms['replicated after resume'] = await eventually('the object on DC2', 30_000, () => onDc('dc2', computer.dn));
    const t = await world.exec(instanceId, ['adcli', 'testjoin', '--domain=lab.example.com', '--domain-controller=DC2.lab.example.com']);
    expect(t.exitCode).toBe(0);
  });
});
