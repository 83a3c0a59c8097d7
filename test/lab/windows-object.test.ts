/**
 * The computer object of a Windows instance, on a real AD (Samba DC): made by the production
 * "Prepare computer object" task (production LdapDirectory adapter, lab settings, LabFleet
 * parameter store), then checked with real tools inside the DC's namespaces:
 *   - the one-time password authenticates as the computer account (kinit NAME$ with it),
 *     which is what an unsecured join (Add-Computer -Options UnsecuredJoin,PasswordPass) does;
 *   - the attributes an unsecured join expects (ldapsearch: sAMAccountName, userAccountControl
 *     4096, dNSHostName, host/ and RestrictedKrbHost/ SPNs);
 *   - once the machine changes its own password (kpasswd as NAME$, the Kerberos password change
 *     a joined machine makes), the one-time password no longer works.
 * No Windows here: the join itself (Add-Computer on Windows) is on paper (docs/windows.md).
 * Root only (jest.lab.config.js).
 */
import { randomBytes } from 'node:crypto';
import * as world from '../../lab/world';
import { LabFleet, labDeps, readParameter } from '../../lab/world/fleet';
import type { Deps } from '../../tasks/lib/deps';
import { generateOneTimePassword } from '../../tasks/lib/otp';
import { prepareComputer } from '../../tasks/lib/prepare';
import type { PrepareComputerOutput, ReadInstanceOutput } from '../../tasks/lib/contracts';
import { unsecuredJoinProblems, type ComputerObjectView } from '../../tasks/lib/windows';
import { ensureLab } from './helpers';

let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
let deps: Deps;
let instance: ReadInstanceOutput;
let computer: PrepareComputerOutput;
let otp = '';

const REALM = 'LAB.EXAMPLE.COM';
const principal = (): string => `${computer.name}$@${REALM}`;

/** kinit as the computer with a password on stdin, in the DC's namespaces; the exit code. */
async function kinitWith(password: string): Promise<{ rc: number; err: string }> {
  const r = await world.dcExec(['sh', '-c', `KRB5CCNAME=MEMORY: kinit '${principal()}' >/dev/null; echo "rc=$?"`], { input: `${password}\n`, timeoutMs: 20_000 });
  const rc = Number(/rc=(\d+)/.exec(r.stdout)?.[1] ?? '-1');
  return { rc, err: r.stderr.replaceAll(password, '***') };
}

/** One entry of ldapsearch -LLL output (unwrapped) as attribute → values. */
function parseLdif(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+):\s(.*)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    const k = m[1].toLowerCase();
    out.set(k, [...(out.get(k) ?? []), m[2]]);
  }
  return out;
}

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  deps = labDeps({ fleet });
  const s = world.labState();
  // A Windows instance as "Read instance" reports it (no lab machine needed: Prepare only
  // talks to the directory and the parameter store).
  instance = {
    instanceId: `i-${randomBytes(9).toString('hex').slice(0, 17)}`,
    account: s.account,
    region: s.region,
    outcome: 'proceed',
    reason: 'lab test: windows',
    platform: 'windows',
    loginGroups: deps.settings.directory.loginGroups,
  };
  computer = await prepareComputer({ instance, executionName: 'lab-windows-object' }, deps);
  otp = readParameter(computer.secretName) ?? '';
});

afterAll(async () => {
  try {
    if (computer) await deps.directory.deleteComputer(computer.dn);
    if (instance) await fleet.deleteJoinSecret(instance.instanceId);
  } finally {
    await restore();
  }
});

describe('the computer object Prepare makes, as a Windows unsecured join sees it', () => {
  test('Prepare created the object and stored a one-time password', () => {
    expect(computer.action).toBe('created');
    expect(computer.fqdn).toBe(`${computer.name.toLowerCase()}.lab.example.com`);
    expect(otp.length).toBeGreaterThanOrEqual(32);
  });

  test('the attributes are what an unsecured join expects (ldapsearch in the DC)', async () => {
    const r = await world.dcLdapSearch(computer.dn, '(objectClass=computer)', ['sAMAccountName', 'userAccountControl', 'dNSHostName', 'servicePrincipalName'], { scope: 'base' });
    expect(r.exitCode).toBe(0);
    const e = parseLdif(r.stdout);
    const view: ComputerObjectView = {
      sAMAccountName: e.get('samaccountname')?.[0],
      userAccountControl: Number(e.get('useraccountcontrol')?.[0]),
      dNSHostName: e.get('dnshostname')?.[0],
      servicePrincipalName: e.get('serviceprincipalname') ?? [],
    };
    expect(view.userAccountControl).toBe(4096);
    expect(unsecuredJoinProblems(view, computer.name, computer.fqdn)).toEqual([]);
    // The check is not vacuous against this real object: another name fails it.
    expect(unsecuredJoinProblems(view, 'OTHERNAME', 'othername.lab.example.com').length).toBeGreaterThan(0);
  });

  test('the one-time password authenticates as the computer account (kinit NAME$)', async () => {
    const ok = await kinitWith(otp);
    expect(ok).toEqual({ rc: 0, err: '' });
    const wrong = await kinitWith(generateOneTimePassword({ bytes: (n) => randomBytes(n) }));
    expect(wrong.rc).not.toBe(0);
    expect(wrong.err).toMatch(/Password incorrect|Preauthentication failed/);
  });

  test('after the machine changes its own password, the one-time password no longer works', async () => {
    const next = generateOneTimePassword({ bytes: (n) => randomBytes(n) });
    // kpasswd as NAME$: old password, then the new one twice (what a joined machine does).
    const r = await world.dcExec(['sh', '-c', `KRB5CCNAME=MEMORY: kpasswd '${principal()}'; echo "rc=$?"`], { input: `${otp}\n${next}\n${next}\n`, timeoutMs: 30_000 });
    const shown = (r.stdout + r.stderr).replaceAll(otp, '***').replaceAll(next, '***');
    expect([/rc=0/.test(r.stdout), shown]).toEqual([true, shown]);
    const old = await kinitWith(otp);
    expect(old.rc).not.toBe(0);
    expect(old.err).toMatch(/Password incorrect|Preauthentication failed/);
    expect(await kinitWith(next)).toEqual({ rc: 0, err: '' });
  });
});
