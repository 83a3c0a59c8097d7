import {
  AlreadyExistsError,
  Attribute,
  BerWriter,
  BusyError,
  Change,
  type Client,
  type ClientOptions,
  Control,
  ConstraintViolationError,
  type Entry,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchObjectError,
  type SearchOptions,
  StrongAuthRequiredError,
  UnavailableError,
  UnwillingToPerformError,
} from 'ldapts';
import {
  computerAttributes,
  computerDn,
  dnsNodeFilter,
  dnsNodeName,
  encodeUnicodePwd,
  escapeDnValue,
  LdapDirectory,
  managedFilter,
  mapLdapError,
  markerFilter,
  nameFilter,
  parseBindSecret,
  ownerSidOf,
  parseGeneralizedTime,
  SD_FLAGS_OID,
  SdFlagsControl,
  sidToString,
  guidToString,
  toComputerObject,
  TREE_DELETE_OID,
} from '../../../../tasks/adapters/ldap-directory';
import { parseDn } from '../../../../tasks/lib/dn';
import { ComputerNameConflict, DirectoryAuthFailed, DirectoryRefused, DirectoryUnavailable, InvalidInput } from '../../../../tasks/lib/errors';
import { OTHER_OU, OU, testSettings } from '../../../fakes';

const marker = { account: '123456789012', region: 'eu-west-1', instanceId: 'i-0123456789abcdef0' };
const MARKER_TEXT = 'adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef0';
const SVC_SID = 'S-1-5-21-1004336348-1177238915-682003330-1105';
const ADMIN_SID = 'S-1-5-21-1004336348-1177238915-682003330-500';
/** objectGUID bytes of 00112233-4455-6677-8899-aabbccddeeff (first three fields little-endian). */
const GUID_BYTES = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
const GUID_TEXT = '00112233-4455-6677-8899-aabbccddeeff';

/** A binary SID, built independently of the code under test. */
function sidBytes(sid: string): Buffer {
  const [, rev = 0, auth = 0, ...subs] = sid.split('-').map(Number);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = rev;
  b[1] = subs.length;
  b.writeUIntBE(auth, 2, 6);
  subs.forEach((x, i) => b.writeUInt32LE(x, 8 + 4 * i));
  return b;
}
/** A self-relative security descriptor with only an owner (what the SD flags control asks for). */
function ownerOnlySd(ownerSid: string): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 1; // revision
  header.writeUInt16LE(0x8000, 2); // SE_SELF_RELATIVE
  header.writeUInt32LE(20, 4); // OffsetOwner
  return Buffer.concat([header, sidBytes(ownerSid)]);
}

describe('LDAP pure helpers', () => {
  it.each([
    ['WEB01', 'WEB01'],
    ['a,b', 'a\\,b'],
    ['a+b=c', 'a\\+b\\=c'],
    ['"q"', '\\"q\\"'],
    ['back\\slash', 'back\\\\slash'],
    ['<x>;', '\\<x\\>\\;'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    ['#hash', '\\#hash'],
    ['mid#dle', 'mid#dle'],
    ['nul\u0000', 'nul\\00'],
  ])('escapes DN value %p as %p (RFC 4514)', (raw, escaped) => {
    expect(escapeDnValue(raw)).toBe(escaped);
  });

  it('escaped DN values parse back to one RDN', () => {
    const dn = computerDn('evil,OU=Managed', OTHER_OU);
    const rdns = parseDn(dn);
    expect(rdns?.[0]).toEqual([{ type: 'cn', value: 'evil,ou=managed' }]);
    expect(rdns).toHaveLength((parseDn(OTHER_OU)?.length ?? 0) + 1);
  });

  it('escapes every filter value (RFC 4515)', () => {
    expect(nameFilter('X)(cn=*').toString()).toBe('(sAMAccountName=X\\29\\28cn=\\2a$)');
    expect(markerFilter(marker).toString()).toBe(`(&(objectClass=computer)(msDS-cloudExtensionAttribute1=${MARKER_TEXT}))`);
    expect(managedFilter().toString()).toBe('(&(objectClass=computer)(msDS-cloudExtensionAttribute1=*))');
    expect(dnsNodeFilter('web*').toString()).toBe('(&(objectClass=dnsNode)(dc=web\\2a))');
  });

  it('encodes unicodePwd as UTF-16LE of the quoted password', () => {
    expect(encodeUnicodePwd('Ab1')).toEqual(Buffer.from([0x22, 0, 0x41, 0, 0x62, 0, 0x31, 0, 0x22, 0]));
  });

  it('builds the exact attribute set the one-time-password join needs (lab/world/README.md)', () => {
    // Act
    const attrs = computerAttributes({ ou: OU, name: 'WEB01', fqdn: 'web01.corp.example.com', marker, description: 'adjoin: EC2 x', password: 'otp-Value1' });
    const byType = Object.fromEntries(attrs.map((a) => [a.type, a.values]));
    // Assess
    expect(byType).toEqual({
      objectClass: ['computer'],
      cn: ['WEB01'],
      sAMAccountName: ['WEB01$'],
      userAccountControl: ['4096'],
      unicodePwd: [Buffer.from('"otp-Value1"', 'utf16le')],
      dNSHostName: ['web01.corp.example.com'],
      servicePrincipalName: ['host/WEB01', 'host/web01.corp.example.com', 'RestrictedKrbHost/WEB01', 'RestrictedKrbHost/web01.corp.example.com'],
      description: ['adjoin: EC2 x'],
      'msDS-cloudExtensionAttribute1': [MARKER_TEXT],
    });
  });

  it('reads an entry into a ComputerObject (attribute names in any case)', () => {
    const o = toComputerObject({
      dn: `CN=WEB01,${OU}`,
      samaccountname: 'WEB01$',
      'msDS-CloudExtensionAttribute1': MARKER_TEXT,
      dNSHostName: 'web01.corp.example.com',
      whenCreated: '20261121100000.0Z',
    });
    expect(o).toEqual({ dn: `CN=WEB01,${OU}`, name: 'WEB01', marker, dnsHostName: 'web01.corp.example.com', whenCreated: new Date('2026-11-21T10:00:00Z'), createdByUs: false });
  });

  it('objectGUID bytes → the canonical GUID (first three fields little-endian); anything but 16 bytes: none', () => {
    expect(guidToString(GUID_BYTES)).toBe(GUID_TEXT);
    expect(guidToString(Buffer.from('c0ffee'.repeat(5), 'hex'))).toBeUndefined();
    expect(guidToString(undefined)).toBeUndefined();
  });

  it('binary SIDs → S-1-5-21-…; the owner of a security descriptor; nonsense → none', () => {
    expect(sidToString(sidBytes(SVC_SID))).toBe(SVC_SID);
    expect(sidToString(sidBytes('S-1-5-32-544'))).toBe('S-1-5-32-544');
    expect(ownerSidOf(ownerOnlySd(SVC_SID))).toBe(SVC_SID);
    expect(ownerSidOf(Buffer.alloc(20))).toBeUndefined(); // revision 0
    const noOwner = ownerOnlySd(SVC_SID);
    noOwner.writeUInt32LE(0, 4);
    expect(ownerSidOf(noOwner)).toBeUndefined();
    expect(sidToString(Buffer.from([1, 5, 0, 0]))).toBeUndefined();
  });

  it('created by us: the owner (or mS-DS-CreatorSID) is the service account\'s SID; another owner or no service SID: not', () => {
    const base = { dn: `CN=WEB01,${OU}`, sAMAccountName: 'WEB01$', 'msDS-cloudExtensionAttribute1': MARKER_TEXT, objectGUID: GUID_BYTES };
    expect(toComputerObject({ ...base, nTSecurityDescriptor: ownerOnlySd(SVC_SID) }, SVC_SID)).toMatchObject({ guid: GUID_TEXT, ownerSid: SVC_SID, createdByUs: true });
    expect(toComputerObject({ ...base, nTSecurityDescriptor: ownerOnlySd(ADMIN_SID) }, SVC_SID)).toMatchObject({ guid: GUID_TEXT, ownerSid: ADMIN_SID, createdByUs: false });
    expect(toComputerObject({ ...base, nTSecurityDescriptor: ownerOnlySd(ADMIN_SID), 'mS-DS-CreatorSID': sidBytes(SVC_SID) }, SVC_SID).createdByUs).toBe(true);
    expect(toComputerObject({ ...base, nTSecurityDescriptor: ownerOnlySd(SVC_SID) }, undefined).createdByUs).toBe(false);
    expect(toComputerObject(base, SVC_SID)).toMatchObject({ createdByUs: false });
  });

  it('the SD flags control asks for the owner only (SEQUENCE { INTEGER 1 }), not critical', () => {
    const w = new BerWriter();
    new SdFlagsControl().write(w);
    const bytes = w.buffer;
    expect(bytes.includes(Buffer.from(SD_FLAGS_OID))).toBe(true);
    expect(bytes.subarray(-5)).toEqual(Buffer.from('3003020101', 'hex'));
    expect(new SdFlagsControl().critical).toBe(false);
  });

  it('leaves out a marker that does not parse', () => {
    expect(toComputerObject({ dn: 'CN=X', sAMAccountName: 'X$', 'msDS-cloudExtensionAttribute1': 'adjoin:v1:bogus' }).marker).toBeUndefined();
    expect(parseGeneralizedTime('garbage')).toEqual(new Date(0));
  });

  it.each([
    [new InvalidCredentialsError('80090308: LdapErr'), DirectoryAuthFailed],
    [new StrongAuthRequiredError('Transport encryption required'), DirectoryAuthFailed],
    [new BusyError('busy'), DirectoryUnavailable],
    [new UnavailableError('unavailable'), DirectoryUnavailable],
    [new InsufficientAccessError('00002098: SecErr'), DirectoryRefused],
    [new ConstraintViolationError('constraint'), DirectoryRefused],
    [new UnwillingToPerformError('unwilling'), DirectoryRefused],
    [Object.assign(new Error('connect ECONNREFUSED 10.0.0.10:636'), { code: 'ECONNREFUSED' }), DirectoryUnavailable],
    [new Error('Connection timeout'), DirectoryUnavailable],
    [new Error('SearchRequest: Operation timed out'), DirectoryUnavailable],
    [Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), DirectoryAuthFailed],
    [Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), DirectoryAuthFailed],
  ])('maps %p', (err, type) => {
    const mapped = mapLdapError(err, 'op');
    expect(mapped).toBeInstanceOf(type);
    expect(mapped.message).toMatch(/^LDAP op failed: /);
  });

  it('says what to fix when the directory denies the service account a right (LDAP result 50), and only then', () => {
    expect(mapLdapError(new InsufficientAccessError('00002098: SecErr'), 'add CN=X').message).toMatch(/\(LDAP result 50\)\. The bind account lacks a right .*README "Directory permissions"/);
    expect(mapLdapError(new ConstraintViolationError('constraint'), 'add CN=X').message).not.toMatch(/Directory permissions/);
  });

  it('reads the bind secret', () => {
    expect(parseBindSecret('{"username":"svc-adjoin","password":"p"}', 's', 'corp.example.com')).toEqual({ bindDn: 'svc-adjoin@corp.example.com', password: 'p' });
    expect(parseBindSecret('{"username":"CN=svc,DC=corp","password":"p"}', 's', 'corp.example.com').bindDn).toBe('CN=svc,DC=corp');
    expect(() => parseBindSecret('{"username":"u"}', 's', 'd')).toThrow(DirectoryAuthFailed);
    expect(() => parseBindSecret('not json p@ss', 's', 'd')).toThrow(/^Bind secret s is not JSON/);
    expect(() => parseBindSecret('not json p@ss', 's', 'd')).not.toThrow(/p@ss/);
  });

  it('reads the seamless-domain-join secret\'s key names too', () => {
    const seamless = '{"awsSeamlessDomainUsername":"svc-adjoin","awsSeamlessDomainPassword":"p2"}';
    expect(parseBindSecret(seamless, 's', 'corp.example.com')).toEqual({ bindDn: 'svc-adjoin@corp.example.com', password: 'p2' });
    expect(parseBindSecret('{"awsSeamlessDomainUsername":"CORP\\\\svc","awsSeamlessDomainPassword":"p"}', 's', 'corp.example.com').bindDn).toBe('CORP\\svc');
    expect(() => parseBindSecret('{"awsSeamlessDomainUsername":"svc"}', 's', 'd')).toThrow(/awsSeamlessDomainPassword/);
    // A half-written {username} pair is not silently replaced by the other pair.
    expect(() => parseBindSecret('{"username":"u","awsSeamlessDomainUsername":"svc","awsSeamlessDomainPassword":"p"}', 's', 'd')).toThrow(DirectoryAuthFailed);
  });

  it('a DC that does not answer names the URL and the port to open', () => {
    const refused = mapLdapError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.10:636'), { code: 'ECONNREFUSED' }), 'bind to ldaps://10.0.0.10:636');
    expect(refused.message).toMatch(/^LDAP bind to ldaps:\/\/10\.0\.0\.10:636 failed: .*\(ECONNREFUSED\)\. .*allow 636 \(LDAPS\) from the Lambda security group/);
    expect(mapLdapError(new Error('Connection timeout'), 'bind to ldaps://dc1:636').message).toContain('allow 636 (LDAPS) from the Lambda security group');
  });
});

/** A scripted stand-in for ldapts' Client: records calls; answers from handlers. */
class FakeClient {
  calls: [string, ...unknown[]][] = [];
  constructor(
    readonly options: ClientOptions,
    private readonly script: Script,
  ) {}
  async bind(dn: string, password: string): Promise<void> {
    await Promise.resolve();
    this.calls.push(['bind', dn, password === 'pw' ? 'pw' : '?']);
    const e = this.script.bind?.(this.options.url);
    if (e) throw e;
  }
  /** Per search: the controls sent and the attributes asked for as bytes. */
  readonly searches: { base: string; controls: string[]; binary: string[] }[] = [];
  async search(base: string, options: SearchOptions, controls?: Control | Control[]): Promise<{ searchEntries: Entry[]; searchReferences: string[] }> {
    await Promise.resolve();
    this.searches.push({ base, controls: [controls ?? []].flat().map((c) => c.type), binary: options.explicitBufferAttributes ?? [] });
    // The service account's own SID (read once per adapter): answered here, not logged as a call.
    if (options.attributes?.length === 1 && options.attributes[0] === 'objectSid')
      return { searchEntries: this.script.self?.(base, String(options.filter)) ?? [{ dn: 'CN=svc,CN=Users,DC=corp,DC=example,DC=com', objectSid: sidBytes(SVC_SID) }], searchReferences: [] };
    this.calls.push(['search', base, String(options.filter), options.scope]);
    return { searchEntries: this.script.search?.(base, String(options.filter), options.scope) ?? [], searchReferences: [] };
  }
  async *searchPaginated(base: string, options: SearchOptions, controls?: Control | Control[]): AsyncGenerator<{ searchEntries: Entry[]; searchReferences: string[] }> {
    await Promise.resolve();
    this.searches.push({ base, controls: [controls ?? []].flat().map((c) => c.type), binary: options.explicitBufferAttributes ?? [] });
    this.calls.push(['searchPaginated', base, String(options.filter), options.paged]);
    for (const page of this.script.pages?.(base) ?? []) yield { searchEntries: page, searchReferences: [] };
  }
  async add(dn: string, attributes: Attribute[]): Promise<void> {
    await Promise.resolve();
    this.calls.push(['add', dn, attributes.map((a) => a.type)]);
    const e = this.script.add?.(dn);
    if (e) throw e;
  }
  async modify(dn: string, change: Change): Promise<void> {
    await Promise.resolve();
    this.calls.push(['modify', dn, change.operation, change.modification.type]);
  }
  async del(dn: string, control?: Control): Promise<void> {
    await Promise.resolve();
    this.calls.push(['del', dn, control?.type, control?.critical]);
    const e = this.script.del?.(dn);
    if (e) throw e;
  }
  async unbind(): Promise<void> {
    await Promise.resolve();
    this.calls.push(['unbind']);
  }
}
interface Script {
  bind?: (url: string) => Error | undefined;
  /** The answer to the service account's own objectSid look-up. */
  self?: (base: string, filter: string) => Entry[];
  search?: (base: string, filter: string, scope?: string) => Entry[];
  pages?: (base: string) => Entry[][];
  add?: (dn: string) => Error | undefined;
  del?: (dn: string) => Error | undefined;
}

function directory(
  script: Script = {},
  over: Partial<ReturnType<typeof testSettings>['directory']> = {},
  bindDn = 'svc@corp.example.com',
): { dir: LdapDirectory; clients: FakeClient[] } {
  const clients: FakeClient[] = [];
  const dir = new LdapDirectory(
    { ...testSettings().directory, ...over },
    {
      credentials: () => Promise.resolve({ bindDn, password: 'pw' }),
      createClient: (options) => {
        const c = new FakeClient(options, script);
        clients.push(c);
        return c as unknown as Client;
      },
    },
  );
  return { dir, clients };
}

const entry = (name: string, ou = OU, m: string | null = MARKER_TEXT): Entry => ({
  dn: `CN=${name},${ou}`,
  sAMAccountName: `${name}$`,
  ...(m ? { 'msDS-cloudExtensionAttribute1': m } : {}),
  whenCreated: '20261121100000.0Z',
});

describe('LdapDirectory', () => {
  it('connects over LDAPS with CA verification and the server name, and unbinds', async () => {
    const { dir, clients } = directory({ search: () => [entry('WEB01')] });
    await expect(dir.findByMarker(marker)).resolves.toHaveLength(1);
    const c = clients[0] as FakeClient;
    expect(c.options.url).toBe('ldaps://10.0.0.10');
    expect(c.options.tlsOptions).toMatchObject({ rejectUnauthorized: true, servername: 'dc1.corp.example.com', ca: [testSettings().directory.caPem] });
    expect(c.calls[0]).toEqual(['bind', 'svc@corp.example.com', 'pw']);
    expect(c.calls.at(-1)).toEqual(['unbind']);
    expect(c.calls[1]).toEqual(['search', OU, `(&(objectClass=computer)(msDS-cloudExtensionAttribute1=${MARKER_TEXT}))`, 'sub']);
  });

  it('verifies each URL against its own DC host name and reports the DC that wrote an object', async () => {
    // Prepare: two DCs by IP, each with its own certificate; DC1 does not answer
    const domainControllers = [{ hostName: 'dc1.corp.example.com', ip: '10.0.0.10' }, { hostName: 'dc2.corp.example.com', ip: '10.0.0.11' }];
    const { dir, clients } = directory(
      {
        bind: (url) => (url === 'ldaps://10.0.0.10' ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined),
        search: (base, _filter, scope) => (scope === 'base' && base === `CN=WEB01,${OU}` ? [entry('WEB01')] : []), // the read-back after the add
      },
      { domainControllers },
    );
    // Act
    const made = await dir.createComputer({ ou: OU, name: 'WEB01', fqdn: 'web01.corp.example.com', marker, description: 'd', password: 'otp-Value1' });
    const reset = await dir.resetPassword(`CN=WEB01,${OU}`, 'otp-Value2');
    // Assess
    expect(clients.map((c) => c.options.tlsOptions?.servername)).toEqual(['dc1.corp.example.com', 'dc2.corp.example.com', 'dc1.corp.example.com', 'dc2.corp.example.com']);
    expect(made.domainController).toBe('dc2.corp.example.com');
    expect(reset).toEqual({ domainController: 'dc2.corp.example.com' });
    expect(dir.serverNameOf('ldaps://10.9.9.9:636')).toBe('dc1.corp.example.com'); // unknown IP: tlsServerName
  });

  it('tries the next URL when a DC does not answer', async () => {
    const { dir, clients } = directory({
      bind: (url) => (url === 'ldaps://10.0.0.10' ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined),
    });
    await dir.findByName('WEB01');
    expect(clients.map((c) => c.options.url)).toEqual(['ldaps://10.0.0.10', 'ldaps://10.0.0.11']);
    expect(clients[0]?.calls.at(-1)).toEqual(['unbind']);
  });

  it('fails with DirectoryUnavailable when no DC answers', async () => {
    const { dir } = directory({ bind: () => new Error('Connection timeout') });
    await expect(dir.findByName('WEB01')).rejects.toThrow(DirectoryUnavailable);
  });

  it('stops at bad credentials (DirectoryAuthFailed), without trying other DCs', async () => {
    const { dir, clients } = directory({ bind: () => new InvalidCredentialsError('bad') });
    await expect(dir.findByName('WEB01')).rejects.toThrow(DirectoryAuthFailed);
    expect(clients).toHaveLength(1);
  });

  it('refuses plain LDAP unless insecure', async () => {
    const { dir } = directory({}, { ldapUrls: ['ldap://10.0.0.10'] });
    await expect(dir.findByName('X')).rejects.toThrow(DirectoryAuthFailed);
    const lab = directory({}, { ldapUrls: ['ldap://10.0.0.10'], insecure: true });
    await expect(lab.dir.findByName('X')).resolves.toBeUndefined();
    expect(lab.clients[0]?.options.tlsOptions).toBeUndefined();
  });

  it('unbinds and maps the error when an operation fails', async () => {
    const { dir, clients } = directory({ del: () => new InsufficientAccessError('no') });
    await expect(dir.deleteComputer(`CN=X,${OU}`)).rejects.toThrow(DirectoryRefused);
    expect(clients[0]?.calls.at(-1)).toEqual(['unbind']);
  });

  it('findByName searches the whole domain by sAMAccountName', async () => {
    const { dir, clients } = directory({ search: () => [entry('WEB01', OTHER_OU, null)] });
    await expect(dir.findByName('WEB01')).resolves.toMatchObject({ dn: `CN=WEB01,${OTHER_OU}`, name: 'WEB01' });
    expect(clients[0]?.calls[1]).toEqual(['search', 'DC=corp,DC=example,DC=com', '(sAMAccountName=WEB01$)', 'sub']);
  });

  it('creates a computer in a managed OU in one add, then reads it back: its objectGUID and owner come from the directory', async () => {
    const dn = `CN=WEB01,${OU}`;
    const { dir, clients } = directory({
      search: (base, _filter, scope) =>
        base === dn && scope === 'base'
          ? [{ ...entry('WEB01'), dNSHostName: 'web01.corp.example.com', objectGUID: GUID_BYTES, nTSecurityDescriptor: ownerOnlySd(SVC_SID) }]
          : [],
    });
    const o = await dir.createComputer({ ou: OU, name: 'WEB01', fqdn: 'web01.corp.example.com', marker, description: 'd', password: 'otp' });
    expect(o).toMatchObject({ dn, name: 'WEB01', marker, guid: GUID_TEXT, ownerSid: SVC_SID, createdByUs: true });
    expect(clients[0]?.calls[1]).toEqual([
      'add',
      dn,
      ['objectClass', 'cn', 'sAMAccountName', 'userAccountControl', 'unicodePwd', 'dNSHostName', 'servicePrincipalName', 'description', 'msDS-cloudExtensionAttribute1'],
    ]);
    expect(clients[0]?.calls[2]).toEqual(['search', dn, '(objectClass=*)', 'base']);
    // every read of computers asks for the owner only, and for GUID / SD / SIDs as bytes
    const read = clients[0]?.searches.find((x) => x.base === dn);
    expect(read?.controls).toEqual([SD_FLAGS_OID]);
    expect(read?.binary).toEqual(expect.arrayContaining(['objectGUID', 'nTSecurityDescriptor', 'mS-DS-CreatorSID']));
  });

  it('an object added but not readable back is an error (never a success without its GUID)', async () => {
    const { dir } = directory({ search: () => [] });
    await expect(dir.createComputer({ ou: OU, name: 'WEB01', fqdn: 'f', marker, description: 'd', password: 'p' })).rejects.toThrow(/could not be read back/);
  });

  it('finds the service account\'s SID by its bind identity (DN: base read; UPN or DOMAIN\\user: by name), once per adapter', async () => {
    const ours = (name: string): Entry => ({ ...entry(name), objectGUID: GUID_BYTES, nTSecurityDescriptor: ownerOnlySd(SVC_SID) });
    for (const [bindDn, base, filter] of [
      ['CN=svc,CN=Users,DC=corp,DC=example,DC=com', 'CN=svc,CN=Users,DC=corp,DC=example,DC=com', undefined],
      ['CORP\\svc', 'DC=corp,DC=example,DC=com', '(sAMAccountName=svc)'],
      ['svc@corp.example.com', 'DC=corp,DC=example,DC=com', '(|(userPrincipalName=svc@corp.example.com)(sAMAccountName=svc))'],
    ] as const) {
      const lookups: [string, string][] = [];
      const { dir } = directory(
        {
          search: () => [ours('WEB01')],
          self: (b, f) => {
            lookups.push([b, f]);
            return [{ dn: 'CN=svc', objectSid: sidBytes(SVC_SID) }];
          },
        },
        {},
        bindDn,
      );
      expect((await dir.findByName('WEB01'))?.createdByUs).toBe(true);
      expect((await dir.findByName('WEB01'))?.createdByUs).toBe(true);
      expect(lookups).toHaveLength(1);
      expect(lookups[0]?.[0]).toBe(base);
      if (filter) expect(lookups[0]?.[1]).toBe(filter);
    }
  });

  it('no single account answers to the bind identity: nothing is "created by us"', async () => {
    const { dir } = directory({
      search: () => [{ ...entry('WEB01'), nTSecurityDescriptor: ownerOnlySd(SVC_SID) }],
      self: () => [],
    });
    expect((await dir.findByName('WEB01'))?.createdByUs).toBe(false);
  });

  it('refuses to create outside the managed OUs or with a bad name', async () => {
    const { dir, clients } = directory();
    await expect(dir.createComputer({ ou: OTHER_OU, name: 'WEB01', fqdn: 'f', marker, description: 'd', password: 'p' })).rejects.toThrow(DirectoryRefused);
    await expect(dir.createComputer({ ou: OU, name: 'TOO-LONG-A-NAME-X', fqdn: 'f', marker, description: 'd', password: 'p' })).rejects.toThrow(InvalidInput);
    expect(clients).toHaveLength(0);
  });

  it('reports who holds a name on AlreadyExists', async () => {
    const { dir } = directory({
      add: () => new AlreadyExistsError('00002071: UpdErr'),
      search: (base, filter) => (filter.startsWith('(sAMAccountName') ? [entry('WEB01', OTHER_OU, null)] : []),
    });
    const err = await dir.createComputer({ ou: OU, name: 'WEB01', fqdn: 'f', marker, description: 'd', password: 'p' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComputerNameConflict);
    expect((err as Error).message).toBe(`Computer name WEB01 is already in use: WEB01$ is held by CN=WEB01,${OTHER_OU} (not ours)`);
  });

  it('resets a password with a replace of unicodePwd', async () => {
    const { dir, clients } = directory();
    await dir.resetPassword(`CN=WEB01,${OU}`, 'new');
    expect(clients[0]?.calls[1]).toEqual(['modify', `CN=WEB01,${OU}`, 'replace', 'unicodePwd']);
  });

  it('deletes with the critical tree-delete control; absent is fine', async () => {
    const { dir, clients } = directory({ del: () => new NoSuchObjectError('gone') });
    await expect(dir.deleteComputer(`CN=WEB01,${OU}`)).resolves.toBeUndefined();
    expect(clients[0]?.calls[1]).toEqual(['del', `CN=WEB01,${OU}`, TREE_DELETE_OID, true]);
  });

  it('deletes the DNS nodes of a host in the domain zone', async () => {
    const zone = 'DC=corp.example.com,CN=MicrosoftDNS,DC=DomainDnsZones,DC=corp,DC=example,DC=com';
    const { dir, clients } = directory({
      search: (base) => (base === zone ? [{ dn: `DC=web01,${zone}` }] : []),
    });
    await expect(dir.deleteDnsRecords('web01')).resolves.toBe(1);
    expect(clients[0]?.calls).toContainEqual(['search', zone, '(&(objectClass=dnsNode)(dc=web01))', 'one']);
    expect(clients[0]?.calls).toContainEqual(['del', `DC=web01,${zone}`, undefined, undefined]);
    await expect(dir.deleteDnsRecords('web01.corp.example.com')).resolves.toBe(1);
    expect(clients[1]?.calls).toContainEqual(['search', zone, '(&(objectClass=dnsNode)(dc=web01))', 'one']);
    await expect(dir.deleteDnsRecords('web_01;x')).rejects.toThrow(InvalidInput);
  });

  it('leaves names outside the domain zone alone (no connection)', async () => {
    const { dir, clients } = directory();
    await expect(dir.deleteDnsRecords('web01.other.example.org')).resolves.toBe(0);
    expect(clients).toHaveLength(0);
  });

  it.each([
    ['web01', 'web01'],
    ['WEB01.Corp.Example.com', 'web01'],
    ['web01.corp.example.com.', 'web01'],
    ['a.b.corp.example.com', 'a.b'],
    ['web01.example.org', undefined],
    ['corp.example.com.evil.org', undefined],
  ])('dnsNodeName(%p) = %p', (host, node) => {
    expect(dnsNodeName(host, 'corp.example.com')).toBe(node);
  });

  it('lists managed objects page by page (page size <= 1000), per managed OU, once each', async () => {
    // Prepare
    const ou2 = 'OU=More,DC=corp,DC=example,DC=com';
    const pages = (base: string): Entry[][] =>
      base === OU ? [[entry('A'), entry('B')], [entry('C')]] : [[entry('D', ou2), { ...entry('A'), dn: `CN=A,${OU}` }]];
    const { dir, clients } = directory({ pages }, { managedOus: [OU, ou2] });
    // Act
    const seen: string[][] = [];
    for await (const page of dir.listManaged()) seen.push(page.map((o) => o.name));
    // Assess
    expect(seen).toEqual([['A', 'B'], ['C'], ['D']]);
    const paged = clients[0]?.calls.filter((c) => c[0] === 'searchPaginated');
    expect(paged).toEqual([
      ['searchPaginated', OU, '(&(objectClass=computer)(msDS-cloudExtensionAttribute1=*))', { pageSize: 500 }],
      ['searchPaginated', ou2, '(&(objectClass=computer)(msDS-cloudExtensionAttribute1=*))', { pageSize: 500 }],
    ]);
    expect(clients[0]?.calls.at(-1)).toEqual(['unbind']);
  });

  it('unbinds when the consumer stops listing early', async () => {
    const { dir, clients } = directory({ pages: () => [[entry('A')], [entry('B')]] });
    for await (const page of dir.listManaged()) {
      expect(page).toHaveLength(1);
      break;
    }
    expect(clients[0]?.calls.at(-1)).toEqual(['unbind']);
  });

  it('maps a failure in the middle of paging', async () => {
    const { dir, clients } = directory({
      pages: () => {
        throw new BusyError('busy');
      },
    });
    const run = async (): Promise<void> => {
      for await (const _ of dir.listManaged()) void _;
    };
    await expect(run()).rejects.toThrow(DirectoryUnavailable);
    expect(clients[0]?.calls.at(-1)).toEqual(['unbind']);
  });
});
