/**
 * The real join on a real AD: a computer object created over LDAPS by the service account with a
 * one-time password, the REAL infra/documents/join.sh run in a lab instance through LabFleet,
 * then real SSSD answers NSS and the access check. Root only (jest.lab.config.js).
 */
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { LabFleet, labDeps, labJoinSecretName, readParameter } from '../../lab/world/fleet';
import { computerName, hostFqdn } from '../../tasks/lib/naming';
import { generateOneTimePassword } from '../../tasks/lib/otp';
import { ensureLab, joinParameters, prepareComputer, runDocument, serviceClient, type PreparedComputer } from './helpers';

const ms: Record<string, number> = {};
let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
let instanceId = '';
let computer: PreparedComputer;
let secretName = '';
const created: string[] = [];
const launched: string[] = [];

const acct = async (id: string, user: string): Promise<string> => {
  const r = await world.exec(id, ['sssctl', 'user-checks', '-a', 'acct', '-s', 'sshd', user], { timeoutMs: 30_000 });
  return /pam_acct_mgmt: (.*)/.exec(r.stderr + r.stdout)?.[1]?.trim() ?? `no answer (exit ${r.exitCode}): ${r.stderr}`;
};

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  const t0 = Date.now();
  const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'join-test' } });
  ms.launch = Date.now() - t0;
  instanceId = i.instanceId;
  launched.push(instanceId);
  computer = await prepareComputer(instanceId);
  created.push(computer.dn);
  secretName = await fleet.putJoinSecret(instanceId, computer.otp);
});

afterAll(async () => {
  try {
    await fleet.settle();
    for (const id of launched) await world.terminate(id).catch(() => undefined);
    for (const id of launched) await fleet.deleteJoinSecret(id);
    if (created.length) {
      const c = await serviceClient();
      try {
        for (const dn of created) await c.del(dn).catch(() => undefined);
      } finally {
        await c.unbind();
      }
    }
  } finally {
    await restore();
    process.stderr.write(`lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
});

describe('join through LabFleet with the real join.sh', () => {
  test('the one-time password sits in the lab parameter store, 0600, under the product name', () => {
    expect(secretName).toBe(labJoinSecretName(instanceId));
    expect(readParameter(secretName)).toBe(computer.otp);
    const files = fs.readdirSync(world.labPaths().paramsDir);
    for (const f of files) expect(fs.statSync(`${world.labPaths().paramsDir}/${f}`).mode & 0o777).toBe(0o600);
  });

  test('the join document succeeds and SSSD resolves alice inside the instance', async () => {
    const { result, ms: joinMs, commandId } = await runDocument(fleet, instanceId, 'join', joinParameters(computer, secretName));
    ms.join = joinMs;
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(result.stdout).toContain(`joined lab.example.com as ${computer.name}`);
    expect(result.stdout).toContain('SSSD running');
    // The same command verified the join (verify.sh appended): the probe user resolves.
    expect(result.stdout).toMatch(/adjoin: verified: alice resolve/);
    // History keeps the reference, never the value.
    const rec = fleet.listCommands(instanceId).find((c) => c.commandId === commandId);
    expect(rec?.parameters.OneTimePassword).toBe(`{{ssm-secure:${secretName}}}`);
    const onDisk = fs.readFileSync(`${world.labPaths().commandsDir}/${commandId}.json`, 'utf8');
    expect(onDisk).not.toContain(computer.otp);
    expect(JSON.stringify(result)).not.toContain(computer.otp);

    const t0 = Date.now();
    const pw = await world.exec(instanceId, ['getent', 'passwd', 'alice']);
    ms['getent after join'] = Date.now() - t0;
    expect(pw.exitCode).toBe(0);
    // sid mapping pinned to the domain SID: UID = 200000 + RID.
    expect(pw.stdout).toMatch(/^alice:\*:2\d{5}:2\d{5}:.*:\/home\/alice:\/bin\/bash\n$/);
  });

  test('the verify document passes for alice', async () => {
    const { result } = await runDocument(fleet, instanceId, 'verify', { ProbeUsers: 'alice', DomainName: 'lab.example.com', LoginGroups: 'linux-admins' });
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(result.stdout).toMatch(/alice resolves: alice:\*:/);
    expect(result.stdout).toContain('linux-admins');
  });

  test('alice (linux-admins) passes the access check; bob does not', async () => {
    expect(await acct(instanceId, 'alice')).toBe('Success');
    expect(await acct(instanceId, 'bob')).toBe('Permission denied');
  });

  test('the instance has a keytab of its own name, and the status reports it', async () => {
    const k = await world.exec(instanceId, ['sh', '-c', `KRB5CCNAME=MEMORY: kinit -k '${computer.name}$@LAB.EXAMPLE.COM' && echo keytab-ok`]);
    expect(k.stdout).toContain('keytab-ok');
    const st = await world.status();
    expect(st.instances.find((i) => i.instanceId === instanceId)?.computerName).toBe(computer.name);
  });

  test('the one-time password is dead after the join (kinit with it fails)', async () => {
    const r = await world.exec(instanceId, ['sh', '-c', `KRB5CCNAME=MEMORY: kinit '${computer.name}$@LAB.EXAMPLE.COM'; echo "rc=$?"`], { input: `${computer.otp}\n` });
    expect(r.stdout).toContain('rc=1');
    expect(r.stderr).toMatch(/Password incorrect|Preauthentication failed/);
  });

  test('running the join document again succeeds with "already joined"', async () => {
    const { result } = await runDocument(fleet, instanceId, 'join', joinParameters(computer, secretName));
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(result.stdout).toContain(`already joined to lab.example.com as ${computer.name}`);
    expect(result.stdout).toContain('done: already joined');
    expect((await world.exec(instanceId, ['getent', 'passwd', 'alice'])).exitCode).toBe(0);
  });

  test('the verify document fails, with outputs, for a user that does not exist', async () => {
    const { result } = await runDocument(fleet, instanceId, 'verify', { ProbeUsers: 'alice,nosuchuser' });
    expect(result).toMatchObject({ status: 'Failed', exitCode: 7 }); // 7: what "Run join document" maps to VerificationFailed
    expect(result.stdout).toContain('alice resolves');
    expect(result.stdout).toContain('nosuchuser does NOT resolve');
    expect(result.stderr).toContain('nosuchuser did not resolve through NSS');
  }, 60_000);
});

describe('join failures and the other mapping mode', () => {
  test('SendCommand refuses undeclared or missing parameters, like SSM', async () => {
    const params = joinParameters(computer, secretName);
    await expect(fleet.sendCommand({ instanceId, document: 'join', parameters: { ...params, Bogus: 'x' }, comment: 't', timeoutSeconds: 60 })).rejects.toMatchObject({ name: 'AwsRefused' });
    const missing: Record<string, string> = { ...params };
    delete missing.Realm;
    await expect(fleet.sendCommand({ instanceId, document: 'join', parameters: missing, comment: 't', timeoutSeconds: 60 })).rejects.toThrow(/Realm is missing/);
  });

  test('a join without a computer object fails with exit 5 and a clear message, no password shown', async () => {
    const i = await world.launch({ tags: { Name: 'no-object' } });
    launched.push(i.instanceId);
    const ghost: PreparedComputer = { name: 'NOSUCHCOMPUTER1', fqdn: 'nosuchcomputer1.lab.example.com', dn: '', otp: 'Aa1-not-a-real-password-0123456789' };
    const name = await fleet.putJoinSecret(i.instanceId, ghost.otp);
    const { result } = await runDocument(fleet, i.instanceId, 'join', joinParameters(ghost, name));
    expect(result).toMatchObject({ status: 'Failed', exitCode: 5 });
    expect(result.stderr).toMatch(/adcli join refused/);
    expect(result.stdout + result.stderr).not.toContain(ghost.otp);
  });

  test('rfc2307 mode: carol resolves with her uidNumber/gidNumber', async () => {
    const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'rfc2307' } });
    launched.push(i.instanceId);
    const c = await prepareComputer(i.instanceId);
    created.push(c.dn);
    const name = await fleet.putJoinSecret(i.instanceId, c.otp);
    const { result } = await runDocument(fleet, i.instanceId, 'join', joinParameters(c, name, { idMapping: 'rfc2307' }));
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    const v = await runDocument(fleet, i.instanceId, 'verify', { ProbeUsers: 'carol' });
    expect(v.result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(v.result.stdout).toContain('carol:*:10003:10000:');
    expect(await acct(i.instanceId, 'carol')).toBe('Success');
  });

  test('a terminated instance refuses commands and keeps its record', async () => {
    const id = launched[launched.length - 1] as string;
    await world.terminate(id);
    expect((await fleet.describeInstance(id))?.state).toBe('terminated');
    expect(await fleet.ssmPingStatus(id)).toBe('Inactive');
    await expect(fleet.sendCommand({ instanceId: id, document: 'verify', parameters: { ProbeUsers: 'alice' }, comment: 't', timeoutSeconds: 60 })).rejects.toThrow(/InvalidInstanceId/);
  });
});

describe("the product's LDAP adapter against the real DC", () => {
  test('createComputer() makes an object the real join accepts; deleteDnsRecords() and deleteComputer() clean up as the service account', async () => {
    const s = world.labState();
    const deps = labDeps();
    const i = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'adapter' } });
    launched.push(i.instanceId);
    const name = computerName(i.instanceId);
    const fqdn = hostFqdn(name, s.domain.dnsDomain);
    const otp = generateOneTimePassword(deps.random);
    const obj = await deps.directory.createComputer({
      ou: s.domain.managedOu,
      name,
      fqdn,
      marker: { account: s.account, region: s.region, instanceId: i.instanceId },
      description: `adjoin ${i.instanceId}`,
      password: otp,
    });
    created.push(obj.dn);
    expect(obj.marker?.instanceId).toBe(i.instanceId);
    const secret = await fleet.putJoinSecret(i.instanceId, otp);
    const { result } = await runDocument(fleet, i.instanceId, 'join', joinParameters({ name, fqdn, dn: obj.dn, otp }, secret));
    expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect((await world.exec(i.instanceId, ['getent', 'passwd', 'alice'])).exitCode).toBe(0);

    // The host's A record in AD DNS (what SSSD's dyndns would register; SSSD 2.8 does it only
    // after a random delay of up to dyndns_refresh_interval_offset, so the test adds it itself).
    const host = name.toLowerCase();
    const add = await world.dcExec(['sh', '-c', `samba-tool dns add 127.0.0.1 ${s.domain.dnsDomain} ${host} A ${i.ip} -U Administrator --password="$(cat ${s.domain.adminPasswordFile})"`]);
    expect(add.exitCode).toBe(0);
    const record = (await world.dcLdapSearch(s.domain.dnsZoneDn, `(&(objectClass=dnsNode)(dc=${host}))`, ['dn'], { scope: 'one' })).stdout;
    expect(record).toContain(`DC=${host},`);

    await world.terminate(i.instanceId);
    expect(await deps.directory.deleteDnsRecords(host)).toBeGreaterThanOrEqual(1);
    await deps.directory.deleteComputer(obj.dn);
    await deps.directory.deleteComputer(obj.dn); // absent: resolves
    const computerLeft = await world.dcLdapSearch(s.domain.baseDn, `(sAMAccountName=${name}$)`, ['dn'], { asAdmin: true });
    const recordLeft = await world.dcLdapSearch(s.domain.dnsZoneDn, `(dc=${host})`, ['dn'], { asAdmin: true });
    expect([computerLeft.exitCode, recordLeft.exitCode]).toEqual([0, 0]);
    expect(computerLeft.stdout + recordLeft.stdout).not.toMatch(/^dn:/m);
  }, 120_000);
});
