/** DN parsing and comparison (tasks/lib/dn.ts): what the managed-OU safety rule stands on. */
import { parseDn, sameDn } from '../../../../tasks/lib/dn';

describe('DN parsing', () => {
  it('normalises case, spaces and escapes', () => {
    // Prepare / Act / Assess: each line compares two spellings of a DN.
    expect(sameDn('CN=Web1, OU=Adjoin,dc=Corp,DC=example,DC=com', 'cn=web1,ou=adjoin,DC=corp,DC=EXAMPLE,DC=COM')).toBe(true);
    expect(sameDn('CN=a\\2Cb,DC=x', 'CN=a\\,b,DC=x')).toBe(true);
    expect(sameDn('CN=a\\,b,DC=x', 'CN=a,CN=b,DC=x')).toBe(false);
    expect(parseDn('CN=caf\\C3\\A9,DC=x')?.[0]?.[0]?.value).toBe('café');
  });
  it('refuses malformed DNs', () => {
    // Prepare / Act / Assess
    for (const bad of ['', 'CN', 'CN=,DC=x', 'CN=a,', 'CN=a\\', 'CN=a\\zz,DC=x', 'CN="open,DC=x', ',CN=a', 'CN=a,,DC=x'])
      expect(parseDn(bad)).toBeUndefined();
  });
  it('reads escaped and plain spellings of the same DN alike', () => {
    // Prepare / Act / Assess
    expect(sameDn('CN=a\\20b,OU=x y ,DC=x', 'cn=A B,ou=X Y,dc=X')).toBe(true);
    expect(sameDn('CN=a\\ ,DC=x', 'CN=a,DC=x')).toBe(false); // an escaped trailing space is part of the value
    expect(parseDn('CN=a=b,DC=x')).toBeUndefined();
    expect(parseDn('CN=a\\=b+UID=c,DC=x')).toBeDefined();
    expect(parseDn('CN=a=b+UID=c,DC=x')).toBeUndefined();
  });
  it('compares multi-valued RDNs regardless of order', () => {
    expect(sameDn('CN=a+UID=b,DC=x', 'uid=B+cn=A,dc=x')).toBe(true);
  });
});
