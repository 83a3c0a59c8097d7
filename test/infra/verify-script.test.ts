/**
 * infra/documents/verify.sh run for real by bash against a fake root (ADJOIN_ROOT: the PAM
 * files) with stub commands on PATH (getent, id, adcli, authselect): the login-path checks of issue 12 — each login group resolves, pam_sss in the auth and
 * account stacks (Debian common-*, RHEL system-auth/password-auth, or authselect's sssd
 * profile), adcli testjoin — each failure named, exit code 7.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DocumentsDir } from '../../infra/documents';

const SCRIPT = path.join(DocumentsDir, 'verify.sh');

const STUBS: Record<string, string> = {
  // passwd: every user resolves; group: only the groups listed in state/groups.
  getent: `case "$1" in
  passwd) echo "$2:*:200001:200001:$2:/home/$2:/bin/bash" ;;
  group) grep -qixF -- "$2" "$ADJOIN_ROOT/state/groups" && echo "$2:*:200500:alice" ;;
  *) exit 2 ;;
esac`,
  id: `if [ "$1" = -Gn ]; then echo "domain users linux-admins"; else echo "uid=200001($1) gid=200001($1) groups=200001($1)"; fi`,
  adcli: 'echo "$*" >>"$ADJOIN_ROOT/state/adcli"; [ "$1" = testjoin ] && [ ! -e "$ADJOIN_ROOT/state/testjoin-fails" ] || { echo "adcli: Couldn\'t find a valid keytab"; exit 1; }',
  authselect: '[ "$1" = current ] && echo "Profile ID: sssd"',
};

const roots: string[] = [];
function fakeRoot(opts: { stubs?: string[]; pam?: Record<string, string>; groups?: string[]; state?: string[] } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-verify-'));
  roots.push(root);
  for (const d of ['bin', 'state', 'etc/pam.d']) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const name of opts.stubs ?? ['getent', 'id', 'adcli']) fs.writeFileSync(path.join(root, 'bin', name), `#!/bin/bash\n${STUBS[name]}\n`, { mode: 0o755 });
  const pam = opts.pam ?? { 'common-auth': 'auth [success=2 default=ignore] pam_unix.so nullok\nauth [success=1 default=ignore] pam_sss.so use_first_pass\n', 'common-account': 'account [default=bad success=ok user_unknown=ignore] pam_sss.so\n' };
  for (const [f, text] of Object.entries(pam)) fs.writeFileSync(path.join(root, 'etc/pam.d', f), text);
  fs.writeFileSync(path.join(root, 'state/groups'), `${(opts.groups ?? ['linux-admins', 'Linux Ops Team']).join('\n')}\n`);
  for (const s of opts.state ?? []) fs.writeFileSync(path.join(root, 'state', s), '');
  return root;
}

function run(root: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', [SCRIPT], {
    env: { PATH: `${path.join(root, 'bin')}:/usr/bin:/bin`, ADJOIN_ROOT: root, SSM_ProbeUsers: 'alice', SSM_DomainName: 'corp.example.com', SSM_LoginGroups: 'linux-admins, Linux Ops Team', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describe('verify.sh login-path checks', () => {
  it('passes: users resolve, each login group resolves, membership reported, pam_sss in common-auth/account, testjoin', () => {
    const root = fakeRoot();
    const r = run(root);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('adjoin: login group linux-admins resolves');
    expect(r.stdout).toContain('adjoin: login group Linux Ops Team resolves');
    expect(r.stdout).toContain('adjoin: alice may log in (member of linux-admins)');
    expect(r.stdout).toContain('adjoin: PAM: pam_sss in common-auth and common-account');
    expect(r.stdout).toContain('adjoin: adcli testjoin passes');
    expect(fs.readFileSync(path.join(root, 'state/adcli'), 'utf8')).toBe('testjoin --domain=corp.example.com\n');
  });

  it('without DomainName, adcli testjoin is told the domain join.sh wrote into sssd.conf (not its guess from the host name)', () => {
    const root = fakeRoot();
    fs.mkdirSync(path.join(root, 'etc/sssd'));
    fs.writeFileSync(path.join(root, 'etc/sssd/sssd.conf'), '[domain/lab.example.com]\nid_provider = ad\nad_domain = lab.example.com\n');
    const r = run(root, { SSM_DomainName: '-' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(fs.readFileSync(path.join(root, 'state/adcli'), 'utf8')).toBe('testjoin --domain=lab.example.com\n');
  });

  it('RHEL-like stacks and authselect are recognised', () => {
    const rhel = run(fakeRoot({ pam: { 'system-auth': 'auth sufficient pam_sss.so forward_pass\naccount [default=bad success=ok user_unknown=ignore] pam_sss.so\n', 'password-auth': 'auth sufficient pam_sss.so\n' } }));
    expect([rhel.status, rhel.stderr]).toEqual([0, '']);
    expect(rhel.stdout).toContain('PAM: pam_sss in system-auth and password-auth');
    const sel = run(fakeRoot({ stubs: ['getent', 'id', 'adcli', 'authselect'], pam: {} }));
    expect([sel.status, sel.stderr]).toEqual([0, '']);
    expect(sel.stdout).toContain('PAM: authselect profile sssd');
  });

  it('each failed check is named, exit code 7: a missing group, pam_sss missing or commented out, testjoin failing', () => {
    const r = run(fakeRoot({ groups: ['linux-admins'], pam: { 'common-auth': '# auth pam_sss.so\nauth required pam_unix.so\n', 'common-account': 'account required pam_unix.so\n' }, state: ['testjoin-fails'] }));
    expect(r.status).toBe(7);
    expect(r.stderr).toContain('adjoin: verification failed: login group "Linux Ops Team" does not resolve through NSS');
    expect(r.stderr).toContain('adjoin: verification failed: PAM stack: pam_sss.so is missing from /etc/pam.d/common-auth or common-account');
    expect(r.stderr).toContain("adjoin: verification failed: adcli testjoin fails: adcli: Couldn't find a valid keytab");
    expect(r.stderr).toMatch(/adjoin: FAILED: verification failed: login group "Linux Ops Team"[^\n]*; PAM stack[^\n]*; adcli testjoin fails/);
    const noPam = run(fakeRoot({ pam: {} }));
    expect(noPam.status).toBe(7);
    expect(noPam.stderr).toContain('PAM stack: neither /etc/pam.d/common-auth');
  });

  it('without login groups only the PAM stack and testjoin are checked', () => {
    const r = run(fakeRoot({ groups: [] }), { SSM_LoginGroups: '-' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).not.toContain('adjoin: login group ');
    expect(r.stdout).toContain('adjoin: adcli testjoin passes');
  });
});
