/** lab/world/rootfs.ts without building anything: the mirror read from apt sources, the cache key. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DISTROS, aptMirror, cachedRootfs, isDistroName, rootfsDir } from '../../../lab/world/rootfs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-rootfs-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

describe('aptMirror', () => {
  it('deb822: the first deb stanza that is not the security archive', () => {
    const f = file(
      'a.sources',
      ['Types: deb', 'URIs: http://mirror.invalid/debian-security/', 'Suites: bookworm-security', 'Components: main', '', 'Types: deb-src deb', 'URIs: http://mirror.invalid/debian/ http://other.invalid/debian', 'Suites: bookworm bookworm-updates', 'Components: main', ''].join('\n'),
    );
    expect(aptMirror([f])).toBe('http://mirror.invalid/debian');
  });

  it('sources.list: a one-line deb entry (options allowed), comments and deb-src skipped', () => {
    const f = file('sources.list', ['# deb http://commented.invalid/debian bookworm main', 'deb-src http://src.invalid/debian bookworm main', 'deb http://mirror.invalid/debian-security bookworm-security main', 'deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main', ''].join('\n'));
    expect(aptMirror([f])).toBe('http://mirror.invalid/debian');
  });

  it('no source at all: an error naming the files it read', () => {
    const f = file('empty.sources', '');
    expect(() => aptMirror([f, path.join(dir, 'missing.list')])).toThrow(/no Debian mirror in the apt sources .*empty\.sources/);
  });
});

describe('the rootfs cache', () => {
  it('is keyed by suite and package list; nothing cached in an empty folder', () => {
    expect(rootfsDir('trixie', '/c')).toMatch(/^\/c\/rootfs-trixie-[0-9a-f]{12}$/);
    expect(rootfsDir('trixie', '/c')).toBe(rootfsDir('trixie', '/c'));
    expect(cachedRootfs('trixie', dir)).toBeUndefined();
    fs.mkdirSync(rootfsDir('trixie', dir));
    expect(cachedRootfs('trixie', dir)).toBeUndefined(); // no ready marker: a half-built copy never counts
    fs.writeFileSync(path.join(rootfsDir('trixie', dir), '.adjoin-rootfs-ready'), '{}');
    expect(cachedRootfs('trixie', dir)).toBe(rootfsDir('trixie', dir));
  });

  it('the trixie image carries what join.sh checks for on Debian, plus pamtester and sudo', () => {
    const script = fs.readFileSync(path.join(__dirname, '../../../infra/documents/join.sh'), 'utf8');
    const debianPkgs = /PKGS=\(adcli sssd[^)]*\)/.exec(script)?.[0].slice(6, -1).split(' ') ?? [];
    expect(debianPkgs.length).toBeGreaterThan(4);
    for (const p of [...debianPkgs, 'pamtester', 'sudo']) expect(DISTROS.trixie.packages).toContain(p);
    expect([isDistroName('trixie'), isDistroName('toString'), isDistroName('fedora')]).toEqual([true, false, false]);
  });
});
