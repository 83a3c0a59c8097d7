import { InvalidInput } from '../../../../tasks/lib/errors';
import {
  computerName,
  computerNameCandidates,
  hostFqdn,
  isValidComputerName,
  joinSecretName,
  joinSecretPath,
  MAX_NAME_ATTEMPTS,
} from '../../../../tasks/lib/naming';

/** Many instance IDs, long and legacy short, from a simple generator. */
function ids(count: number, hexLength: 8 | 17): string[] {
  const out: string[] = [];
  let x = 12345;
  for (let i = 0; i < count; i++) {
    let h = '';
    while (h.length < hexLength) {
      x = (x * 1103515245 + 12345) >>> 0;
      h += (x >>> 8).toString(16).padStart(6, '0');
    }
    out.push(`i-${h.slice(0, hexLength)}`);
  }
  return out;
}

describe('computerName', () => {
  it.each([
    ['', 17],
    ['', 8],
    ['LNX', 17],
    ['1234', 17],
    ['ab', 8],
  ] as const)('prefix %p, %p-hex IDs: 15 chars, valid NetBIOS, upper case, deterministic, distinct', (prefix, len) => {
    // Prepare
    const all = ids(5000, len);
    // Act
    const names = all.map((id) => computerName(id, prefix));
    // Assess
    for (const [k, name] of names.entries()) {
      expect(name).toHaveLength(15);
      expect(name).toMatch(/^[A-Z0-9]+$/);
      expect(isValidComputerName(name)).toBe(true);
      expect(name.startsWith(prefix.toUpperCase())).toBe(true);
      expect(computerName(all[k] as string, prefix)).toBe(name);
    }
    expect(new Set(names).size).toBe(new Set(all).size);
  });

  it('never produces an all-digit name, even with an all-digit prefix', () => {
    for (const id of ids(2000, 17)) expect(computerName(id, '1234')).not.toMatch(/^\d+$/);
  });

  it('gives distinct candidates for each attempt of the collision rule', () => {
    // Act
    const candidates = computerNameCandidates('i-0123456789abcdef0', 'web');
    // Assess
    expect(candidates).toHaveLength(MAX_NAME_ATTEMPTS);
    expect(new Set(candidates).size).toBe(MAX_NAME_ATTEMPTS);
    expect(candidates[0]).toBe(computerName('i-0123456789abcdef0', 'web', 0));
    for (const c of candidates) expect(isValidComputerName(c)).toBe(true);
  });

  it('is stable across releases (a pinned value)', () => {
    expect(computerName('i-0123456789abcdef0')).toBe(computerName('i-0123456789abcdef0', '', 0));
    expect(computerName('i-0123456789abcdef0')).toMatchInlineSnapshot(`"LAINBYMGELWZY7L"`);
  });

  it.each(['i-123', 'i-0123456789ABCDEF0', 'x-0123456789abcdef0', 'i-0123456789abcdef0 ', '', 'i-(&)'])('refuses instance ID %p', (id) => {
    expect(() => computerName(id)).toThrow(InvalidInput);
  });

  it('refuses a bad prefix or attempt', () => {
    expect(() => computerName('i-0123456789abcdef0', 'toolong')).toThrow(InvalidInput);
    expect(() => computerName('i-0123456789abcdef0', 'a-b')).toThrow(InvalidInput);
    expect(() => computerName('i-0123456789abcdef0', '', MAX_NAME_ATTEMPTS)).toThrow(InvalidInput);
  });
});

describe('isValidComputerName', () => {
  it.each([
    ['WEB01', true],
    ['A', true],
    ['ABCDEFGHIJKLMNO', true],
    ['ABCDEFGHIJKLMNOP', false],
    ['12345', false],
    ['-WEB', false],
    ['WEB-', false],
    ['WEB_1', false],
    ['WEB 1', false],
    ['', false],
  ])('%p → %p', (name, ok) => {
    expect(isValidComputerName(name)).toBe(ok);
  });
});

describe('hostFqdn / joinSecretName', () => {
  it('lower-cases the name under the domain', () => {
    expect(hostFqdn('ABC123', 'Corp.Example.com')).toBe('abc123.corp.example.com');
  });
  it('puts the secret under the adjoin path', () => {
    expect(joinSecretName('i-0123456789abcdef0')).toBe('/adjoin/otp/i-0123456789abcdef0');
    expect(joinSecretName('i-0123456789abcdef0', '/acme/otp/')).toBe('/acme/otp/i-0123456789abcdef0');
  });
  it('reads the resource prefix back from the join document name', () => {
    expect(joinSecretPath('adjoin-join')).toBe('/adjoin/otp/');
    expect(joinSecretPath('acme-ad-join')).toBe('/acme-ad/otp/');
    expect(joinSecretPath('MyJoinDoc')).toBe('/adjoin/otp/');
  });
});
