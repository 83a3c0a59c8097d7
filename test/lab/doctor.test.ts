/**
 * `adjoin --local doctor` on the REAL lab (Samba AD DC over LDAPS, the product's adapters): every
 * check passes on a healthy lab; it fails with the right fix when the DC is blackholed (a
 * blackhole route to the DC in the root namespace, where the product's LDAP client runs) and when
 * the service account's password is wrong (the lab's bind password file holds a wrong one).
 * Both are undone in `finally`. Root only; run serialized:
 *   flock /tmp/adjoin-lab-machine.lock npx jest -c jest.lab.config.js --runInBand test/lab/doctor.test.ts
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { DC_IP } from '../../lab/world/paths';
import { buildProbes } from '../../tasks/adapters/doctor-ports';
import { mayDeleteChild, type DoctorReport } from '../../tasks/lib/doctor';
import { assertLabRoute, labSettings } from '../../lab/world/fleet';
import { adjoin } from './cli-helpers';
import { ensureLab } from './helpers';

const report = (text: string): DoctorReport => JSON.parse(text) as DoctorReport;
const check = (r: DoctorReport, prefix: string) => r.checks.filter((c) => c.name.startsWith(prefix));

let restore: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ restore } = await ensureLab());
});

afterAll(async () => {
  await restore();
});

describe('adjoin --local doctor on the lab', () => {
  it('passes every check on a healthy lab, and checks an opted-in instance', async () => {
    const d = world.labState().domain;
    const instance = await world.launch({ tags: { 'Domain:Join': 'true' } });
    const { code, out, ms } = await adjoin('--local', 'doctor', '--json', '--instance', instance.instanceId);
    const r = report(out);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(25_000);
    const names = r.checks.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([`DNS ${d.dcFqdn}`, `TCP ${DC_IP}:636`, `TLS ${DC_IP}`, `bind ${DC_IP}`, `create/delete in ${d.managedOu}`, 'delete DNS records', 'SSM Online', 'opt-in tag', 'opt-out tag']),
    );
    expect(check(r, 'DNS')[0]?.detail).toContain(DC_IP);
    expect(check(r, 'create/delete')[0]?.detail).toMatch(/created and deleted ADJPROBE[0-9A-F]{7}/);
    // The probe is gone: nothing named ADJPROBE* is left in the directory.
    const left = await world.dcLdapSearch(d.baseDn, '(sAMAccountName=ADJPROBE*)', ['cn']);
    expect(left.stdout).not.toMatch(/^dn:/m);

    // Human output: one line per check, exit 0.
    const human = await adjoin('--local', 'doctor');
    expect(human.code).toBe(0);
    expect(human.out).toMatch(new RegExp(`^✓ TLS ${DC_IP.replace(/\./g, '\\.')} +certificate CN=`, 'm'));
    expect(human.out).toContain('checks passed.');
  });

  it('DNS rights come from the delegation to the service account, not from a grant to everyone', async () => {
    const settings = labSettings();
    const { directory } = buildProbes(settings, { guard: (h) => assertLabRoute(`ldaps://${h}`) });
    const access = await directory.zoneAccess();
    expect(access?.zoneDn).toMatch(/^DC=lab\.example\.com,CN=MicrosoftDNS,DC=DomainDnsZones,/i);
    expect(access?.sids.length).toBeGreaterThan(1); // objectSid + tokenGroups
    expect(mayDeleteChild(access?.securityDescriptor ?? Buffer.alloc(0), access?.sids ?? [])).toBe(true);
    // Without the account's own SIDs (only Everyone / Authenticated Users): not allowed.
    expect(mayDeleteChild(access?.securityDescriptor ?? Buffer.alloc(0), [])).toBe(false);
  });

  it('fails TCP, TLS and bind with the security-group fix when the DC is blackholed, and passes again after', async () => {
    // Every DC of the lab (one today; the same with two), in the root namespace where the product's LDAP client runs.
    const dcs = labSettings().directory.dcIps;
    const added: string[] = [];
    for (const ip of dcs) {
      execFileSync('ip', ['route', 'add', 'blackhole', `${ip}/32`]);
      added.push(ip);
    }
    let r: DoctorReport;
    let code: number;
    let ms: number;
    try {
      let out: string;
      ({ code, out, ms } = await adjoin('--local', 'doctor', '--json'));
      r = report(out);
    } finally {
      for (const ip of added) execFileSync('ip', ['route', 'del', 'blackhole', `${ip}/32`]);
    }
    expect(code).toBe(1);
    expect(r.ok).toBe(false);
    expect(ms).toBeLessThan(30_000);
    const tcp = check(r, 'TCP')[0];
    expect(tcp?.ok).toBe(false);
    expect(tcp?.fix).toContain(`Allow TCP 636 from`);
    expect(tcp?.fix).toContain(DC_IP);
    expect(check(r, 'bind').every((c) => !c.ok)).toBe(true);
    expect(check(r, 'create/delete')[0]?.fix).toContain('bind');
    expect((await adjoin('--local', 'doctor')).code).toBe(0);
  });

  it('fails bind with the credentials fix when the service account password is wrong, and passes again after', async () => {
    const file = world.labState().domain.bindPasswordFile;
    const original = fs.readFileSync(file);
    fs.writeFileSync(file, 'Wrong-Password-1234\n');
    let code: number;
    let out: string;
    try {
      ({ code, out } = await adjoin('--local', 'doctor', '--json'));
    } finally {
      fs.writeFileSync(file, original);
    }
    const r = report(out);
    expect(code).toBe(1);
    const bind = check(r, 'bind')[0];
    expect(check(r, 'bind').every((c) => !c.ok)).toBe(true);
    expect(bind?.fix).toContain(`current password in ${file}`);
    expect(check(r, 'TCP')[0]?.ok).toBe(true);
    expect(check(r, 'TLS')[0]?.ok).toBe(true);
    expect(out).not.toContain('Wrong-Password-1234');
    expect(out).not.toContain(original.toString('utf8').trim());
    expect((await adjoin('--local', 'doctor')).code).toBe(0);
  });
});
