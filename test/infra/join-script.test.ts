/**
 * infra/documents/join.sh run for real by bash against a fake root (ADJOIN_ROOT), with stub
 * commands on PATH (adcli, sssd, systemctl, nmcli, ip, dhclient, getent, klist): which files
 * each DNS branch writes, the backups, the roll-back on failure, and that the one-time password
 * reaches adcli on standard input, never in its arguments. No root needed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DocumentsDir } from '../../infra/documents';

const SCRIPT = path.join(DocumentsDir, 'join.sh');
const OTP = 'Zq7-otp.Value_with+marks=@%:,~0123456789abcd';

const STUBS: Record<string, string> = {
  adcli: `echo "$*" >>"$ADJOIN_ROOT/log/adcli"
case "$1" in
  testjoin) [ -e "$ADJOIN_ROOT/state/joined" ] ;;
  join)
    cat >"$ADJOIN_ROOT/log/adcli.stdin"
    tr '\\0' ' ' </proc/$$/cmdline >"$ADJOIN_ROOT/log/adcli.cmdline"
    if [ -e "$ADJOIN_ROOT/state/adcli-fails" ]; then echo "adcli: Couldn't join: password incorrect"; exit 1; fi
    touch "$ADJOIN_ROOT/state/joined" ;;
esac`,
  // Like \`sssd -D\`: a daemon of its own (a sleep), its PID in the PID file.
  sssd: `[ -e "$ADJOIN_ROOT/state/sssd-fails" ] && { echo "sssd: bad config"; exit 1; }
sleep 120 </dev/null >/dev/null 2>&1 &
echo "$!" >"$ADJOIN_ROOT/run/sssd.pid"
echo "$!" >>"$ADJOIN_ROOT/log/daemons"`,
  systemctl: `echo "$*" >>"$ADJOIN_ROOT/log/systemctl"
case "$*" in
  "is-active --quiet systemd-resolved") [ -e "$ADJOIN_ROOT/state/resolved" ] ;;
  "restart sssd") [ ! -e "$ADJOIN_ROOT/state/sssd-fails" ] ;;
  *) exit 0 ;;
esac`,
  nmcli: `echo "$*" >>"$ADJOIN_ROOT/log/nmcli"
case "$*" in
  "-t -f RUNNING general") echo running ;;
  "-g GENERAL.CONNECTION device show eth0") echo "Wired connection 1" ;;
  "-g ipv4.dns connection show Wired connection 1") echo "10.9.9.9" ;;
  "-g ipv4.dns-search connection show Wired connection 1") echo "" ;;
  *) exit 0 ;;
esac`,
  ip: 'echo "default via 10.0.0.1 dev eth0 proto dhcp"',
  getent: 'exit 0',
  klist: 'echo "   2 ${STUB_PRINCIPAL}"',
  dhclient: 'exit 0',
};

interface Run { status: number | null; stdout: string; stderr: string; root: string }

function fakeRoot(opts: { stubs?: string[]; state?: string[] } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-join-'));
  for (const d of ['bin', 'log', 'state', 'run', 'etc/sssd', 'var/log/sssd']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), 'ID=testos\nNAME="Test OS"\nVERSION_ID=1\n');
  fs.writeFileSync(path.join(root, 'etc/resolv.conf'), 'search ec2.internal\nnameserver 10.0.0.2\noptions edns0\n');
  fs.writeFileSync(path.join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  const stubs = opts.stubs ?? ['adcli', 'sssd', 'getent', 'klist'];
  for (const name of stubs) fs.writeFileSync(path.join(root, 'bin', name), `#!/bin/bash\n${STUBS[name]}\n`, { mode: 0o755 });
  for (const s of opts.state ?? []) fs.writeFileSync(path.join(root, 'state', s), '');
  return root;
}

function run(root: string, env: Record<string, string | undefined> = {}): Run {
  const base: Record<string, string> = {
    PATH: `${path.join(root, 'bin')}:/usr/bin:/bin`,
    ADJOIN_ROOT: root,
    TMPDIR: root,
    STUB_PRINCIPAL: 'LAINBYMGELWZY7L$@CORP.EXAMPLE.COM',
    SSM_DomainName: 'corp.example.com',
    SSM_Realm: 'CORP.EXAMPLE.COM',
    SSM_ComputerName: 'LAINBYMGELWZY7L',
    SSM_HostFqdn: 'lainbymgelwzy7l.corp.example.com',
    SSM_DomainControllers: '10.0.1.10,10.0.2.10',
    SSM_OneTimePassword: OTP,
    SSM_ComputerOu: 'OU=adjoin,OU=Computers,OU=CORP,DC=corp,DC=example,DC=com',
    SSM_LoginGroups: 'linux-admins',
    SSM_IdMapping: 'rfc2307',
    SSM_DomainSid: '-',
    SSM_DynamicDns: 'false',
    SSM_DomainController: '-',
  };
  const merged: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k]; else merged[k] = v;
  const r = spawnSync('bash', [SCRIPT], { env: merged, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, root };
}

const read = (root: string, f: string): string => fs.readFileSync(path.join(root, f), 'utf8');
const exists = (root: string, f: string): boolean => fs.existsSync(path.join(root, f));
const mode = (root: string, f: string): string => (fs.statSync(path.join(root, f)).mode & 0o777).toString(8);
const roots: string[] = [];
const made = (opts?: Parameters<typeof fakeRoot>[0]): string => {
  const r = fakeRoot(opts);
  roots.push(r);
  return r;
};
afterAll(() => {
  for (const r of roots) {
    // Stop the stub daemons this test started (their PIDs only).
    const daemons = exists(r, 'log/daemons') ? read(r, 'log/daemons').split('\n').filter(Boolean) : [];
    for (const pid of daemons) {
      try {
        process.kill(Number(pid));
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(r, { recursive: true, force: true });
  }
});

describe('join.sh against a fake root', () => {
  it('static resolv.conf: DCs first, domain first in search, a one-time backup; the password only on adcli stdin', () => {
    const root = made();
    const original = read(root, 'etc/resolv.conf');
    const r = run(root);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(read(root, 'etc/resolv.conf')).toBe('# written by adjoin: corp.example.com answered by its domain controllers\nsearch corp.example.com ec2.internal\nnameserver 10.0.1.10\nnameserver 10.0.2.10\nnameserver 10.0.0.2\noptions edns0\n');
    expect(mode(root, 'etc/resolv.conf')).toBe('644');
    expect(read(root, 'etc/resolv.conf.adjoin.bak')).toBe(original);
    expect(read(root, 'log/adcli.stdin')).toBe(OTP);
    expect(read(root, 'log/adcli.cmdline')).not.toContain(OTP);
    expect(read(root, 'log/adcli.cmdline')).toContain('--login-type=computer --stdin-password');
    expect(read(root, 'log/adcli')).not.toContain(OTP);
    expect(r.stdout).not.toContain(OTP);
    expect(read(root, 'etc/sssd/sssd.conf')).toContain('ad_hostname = lainbymgelwzy7l.corp.example.com');
    expect(mode(root, 'etc/sssd/sssd.conf')).toBe('600');
    expect(read(root, 'etc/nsswitch.conf')).toBe('passwd: files sss\ngroup: files sss\nshadow: files sss\nhosts: files dns\n');
    expect(read(root, 'etc/nsswitch.conf.adjoin.bak')).toBe('passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');

    // A second run (other DCs) keeps the first backup: it still holds the host's own file.
    const again = run(root, { SSM_DomainControllers: '10.0.3.10' });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already joined');
    expect(read(root, 'etc/resolv.conf.adjoin.bak')).toBe(original);
    expect(read(root, 'etc/resolv.conf')).toContain('nameserver 10.0.3.10\n');
  });

  it('systemd-resolved: a 0755 drop-in folder (umask 077 would make it 0700) and a 0644 drop-in; resolv.conf untouched', () => {
    const root = made({ stubs: ['adcli', 'sssd', 'getent', 'klist', 'systemctl'], state: ['resolved'] });
    fs.mkdirSync(path.join(root, 'run/systemd/system'), { recursive: true });
    const resolv = read(root, 'etc/resolv.conf');
    const r = run(root);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(mode(root, 'etc/systemd/resolved.conf.d')).toBe('755');
    expect(mode(root, 'etc/systemd/resolved.conf.d/adjoin.conf')).toBe('644');
    expect(read(root, 'etc/systemd/resolved.conf.d/adjoin.conf')).toBe('[Resolve]\nDNS=10.0.1.10 10.0.2.10\nDomains=~corp.example.com\n');
    expect(read(root, 'etc/resolv.conf')).toBe(resolv);
    expect(read(root, 'log/systemctl')).toContain('restart systemd-resolved');
  });

  it('NetworkManager: the default-route connection gets the DCs and the search domain, its old values kept', () => {
    const root = made({ stubs: ['adcli', 'sssd', 'getent', 'klist', 'nmcli', 'ip'] });
    const resolv = read(root, 'etc/resolv.conf');
    const r = run(root);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(read(root, 'log/nmcli')).toContain('connection modify Wired connection 1 ipv4.dns 10.0.1.10 10.0.2.10 ipv4.dns-search corp.example.com\n');
    expect(read(root, 'log/nmcli')).toContain('device reapply eth0');
    expect(read(root, 'var/lib/adjoin/networkmanager-eth0.bak')).toBe('connection=Wired connection 1\nipv4.dns=10.9.9.9\nipv4.dns-search=\n');
    expect(read(root, 'etc/resolv.conf')).toBe(resolv); // NetworkManager writes it
  });

  it('dhclient: prepends the DCs and the domain at every lease, and rewrites resolv.conf now', () => {
    const root = made({ stubs: ['adcli', 'sssd', 'getent', 'klist', 'dhclient'] });
    fs.mkdirSync(path.join(root, 'etc/dhcp'));
    fs.writeFileSync(path.join(root, 'etc/dhcp/dhclient.conf'), 'request subnet-mask, routers;\n');
    const r = run(root);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(read(root, 'etc/dhcp/dhclient.conf')).toBe('request subnet-mask, routers;\nprepend domain-name-servers 10.0.1.10, 10.0.2.10; # adjoin\nprepend domain-search "corp.example.com"; # adjoin\n');
    expect(read(root, 'etc/dhcp/dhclient.conf.adjoin.bak')).toBe('request subnet-mask, routers;\n');
    expect(read(root, 'etc/resolv.conf')).toContain('nameserver 10.0.1.10\n');
    // Idempotent: a second run replaces its own lines.
    expect(run(root, { SSM_DomainControllers: '10.0.3.10' }).status).toBe(0);
    expect(read(root, 'etc/dhcp/dhclient.conf')).toBe('request subnet-mask, routers;\nprepend domain-name-servers 10.0.3.10; # adjoin\nprepend domain-search "corp.example.com"; # adjoin\n');
  });

  it('a refused join (exit 5) leaves the host as it was: resolv.conf restored, no sssd.conf', () => {
    const root = made({ state: ['adcli-fails'] });
    const resolv = read(root, 'etc/resolv.conf');
    const r = run(root);
    expect(r.status).toBe(5);
    expect(r.stderr).toContain('adcli join refused');
    expect(r.stderr).toContain('rolled back');
    expect(r.stderr + r.stdout).not.toContain(OTP);
    expect(read(root, 'etc/resolv.conf')).toBe(resolv);
    expect(exists(root, 'etc/sssd/sssd.conf')).toBe(false);
  });

  it('SSSD that does not start (exit 6): every changed file is put back', () => {
    const root = made({ state: ['sssd-fails'] });
    const resolv = read(root, 'etc/resolv.conf');
    const nss = read(root, 'etc/nsswitch.conf');
    const r = run(root);
    expect(r.status).toBe(6);
    expect(read(root, 'etc/resolv.conf')).toBe(resolv);
    expect(read(root, 'etc/nsswitch.conf')).toBe(nss);
    expect(exists(root, 'etc/sssd/sssd.conf')).toBe(false);
    expect(fs.readdirSync(root).filter((f) => f.startsWith('adjoin-run.'))).toEqual([]); // the run's snapshot is removed
  });

  it('parameters only from SSM_<Name>: a missing password or an unresolved reference stops with exit 2', () => {
    const missing = run(made(), { SSM_OneTimePassword: undefined });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('parameter OneTimePassword is missing: $SSM_OneTimePassword is not set (SSM Agent 3.3.3572.0 or later');
    const unresolved = run(made(), { SSM_OneTimePassword: '{{ssm-secure:/adjoin/otp/i-1}}' });
    expect(unresolved.status).toBe(2);
    expect(unresolved.stderr).toContain('was not resolved');
    const noDomain = run(made(), { SSM_DomainName: undefined });
    expect(noDomain.status).toBe(2);
    expect(noDomain.stderr).toContain('parameter DomainName is missing');
  });

  it('the in-script DN check (POSIX ERE) refuses what the allowed pattern refuses', () => {
    for (const ou of ["OU=x'$(touch /tmp/p)',DC=corp,DC=example,DC=com", 'OU=a;b,DC=corp', 'OU=a`id`,DC=corp', 'OU=a\\q,DC=corp']) {
      const root = made();
      const r = run(root, { SSM_ComputerOu: ou });
      expect([ou, r.status]).toEqual([ou, 2]);
      expect(exists(root, 'p')).toBe(false);
      expect(exists(root, 'log/adcli')).toBe(false);
    }
  });
});
