/**
 * Directory over LDAPS with ldapts — the only file that imports ldapts. Every method binds
 * once (trying settings.directory.ldapUrls in order), does its work, and unbinds in `finally`.
 * Certificates are verified against the configured CA (servername = tlsServerName); plain LDAP
 * or unverified TLS only with `insecure`. Every filter value is escaped by ldapts' filter
 * classes (RFC 4515), every DN value by escapeDnValue (RFC 4514), and every ldapts error becomes
 * one of ours (mapLdapError): ldapts errors carry no `name` Step Functions could route on.
 *
 * Ownership (tasks/lib/safety.ts rule 4): every computer object read carries its objectGUID
 * (binary → canonical GUID string) and the owner SID of its security descriptor, read with the
 * SD flags control asking for the owner only (no DACL: the service account may not read it).
 * "Created by us" = that owner, or mS-DS-CreatorSID, is the service account's own objectSid
 * (read once per bind identity). The creator of an object becomes its owner (measured on the
 * lab's Samba: test/lab/ownership.test.ts).
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  AlreadyExistsError,
  AndFilter,
  Attribute,
  AuthMethodNotSupportedError,
  BerWriter,
  BusyError,
  Change,
  Client,
  type ClientOptions,
  ConfidentialityRequiredError,
  Control,
  type Entry,
  EqualityFilter,
  type Filter,
  InappropriateAuthError,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchObjectError,
  OrFilter,
  PresenceFilter,
  ResultCodeError,
  StrongAuthRequiredError,
  TimeLimitExceededError,
  UnavailableError,
} from 'ldapts';
import {
  AdjoinError,
  ComputerNameConflict,
  DirectoryAuthFailed,
  DirectoryRefused,
  DirectoryUnavailable,
  InvalidInput,
} from '../lib/errors';
import { isInside, sameDn } from '../lib/dn';
import { formatMarker, MARKER_ATTRIBUTE, parseMarker } from '../lib/marker';
import { isValidComputerName } from '../lib/naming';
import type { ComputerObject, Directory, Marker, NewComputer } from '../lib/ports';
import type { Settings } from '../lib/settings';
import { awsClientConfig } from './aws-clients';
import { expectedSpns, WORKSTATION_TRUST_ACCOUNT } from '../lib/windows';
import { mapAwsError } from './aws-errors';
import { traced } from './observability';

export type DirectorySettings = Settings['directory'];

/** The tree-delete control: deletes a computer with its child objects. */
export const TREE_DELETE_OID = '1.2.840.113556.1.4.805';
/** Paged searches ask for this many entries a page (AD's MaxPageSize is 1,000). */
export const PAGE_SIZE = 500;
/** userAccountControl of a workstation trust account (tasks/lib/windows: also what Windows expects). */
export { WORKSTATION_TRUST_ACCOUNT };
/** The SD flags control: which parts of nTSecurityDescriptor a search returns. */
export const SD_FLAGS_OID = '1.2.840.113556.1.4.801';
/** OWNER_SECURITY_INFORMATION: the owner only. */
export const OWNER_SECURITY_INFORMATION = 1;
export const COMPUTER_ATTRIBUTES = [
  'sAMAccountName',
  'cn',
  MARKER_ATTRIBUTE,
  'description',
  'dNSHostName',
  'whenCreated',
  'objectGUID',
  'nTSecurityDescriptor',
  'mS-DS-CreatorSID',
];
/** Attributes ldapts must return as bytes, not text. */
export const BINARY_ATTRIBUTES = ['objectGUID', 'nTSecurityDescriptor', 'mS-DS-CreatorSID', 'objectSid'];

/** The SD flags control (value: SEQUENCE { INTEGER flags }), not critical: a server without it still answers. */
export class SdFlagsControl extends Control {
  constructor(readonly flags: number = OWNER_SECURITY_INFORMATION) {
    super(SD_FLAGS_OID, { critical: false });
  }
  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(this.flags);
    value.endSequence();
    writer.writeBuffer(value.buffer, 0x04); // OCTET STRING
  }
}

// ---- pure helpers (unit-tested) ------------------------------------------------------------

/** RFC 4514 escaping of one attribute value inside a DN. */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const code = c.charCodeAt(0);
    if (',+"\\<>;='.includes(c)) out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else if ((c === ' ' || c === '#') && i === 0) out += `\\${c}`;
    else if (c === ' ' && i === value.length - 1) out += '\\ ';
    else out += c;
  }
  return out;
}

export const computerDn = (name: string, ou: string): string => `CN=${escapeDnValue(name)},${ou}`;
export const dnsZoneDns = (domain: string, baseDn: string): string[] => [
  `DC=${escapeDnValue(domain.toLowerCase())},CN=MicrosoftDNS,DC=DomainDnsZones,${baseDn}`,
  `DC=${escapeDnValue(domain.toLowerCase())},CN=MicrosoftDNS,CN=System,${baseDn}`,
];

const eq = (attribute: string, value: string): EqualityFilter => new EqualityFilter({ attribute, value });
export const markerFilter = (marker: Marker): Filter =>
  new AndFilter({ filters: [eq('objectClass', 'computer'), eq(MARKER_ATTRIBUTE, formatMarker(marker))] });
export const nameFilter = (name: string): Filter => eq('sAMAccountName', `${name}$`);
export const managedFilter = (): Filter =>
  new AndFilter({ filters: [eq('objectClass', 'computer'), new PresenceFilter({ attribute: MARKER_ATTRIBUTE })] });
export const dnsNodeFilter = (host: string): Filter => new AndFilter({ filters: [eq('objectClass', 'dnsNode'), eq('dc', host)] });

/** A DNS node name relative to the zone: one or more labels. */
const DNS_NODE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * The dnsNode name (DC=<node>) of a host in the domain's zone: a single label as it is, an FQDN
 * inside the domain without the domain suffix; undefined for a name in another zone.
 */
export function dnsNodeName(hostname: string, domain: string): string | undefined {
  const h = hostname.trim().replace(/\.$/, '').toLowerCase();
  const d = domain.toLowerCase();
  if (!h.includes('.')) return h;
  if (h.endsWith(`.${d}`)) return h.slice(0, -(d.length + 1));
  return undefined;
}

/** unicodePwd: the password in double quotes, UTF-16LE (AD refuses anything else). */
export const encodeUnicodePwd = (password: string): Buffer => Buffer.from(`"${password}"`, 'utf16le');

/** The attribute set of one add (one-time-password join: lab/world/README.md, "Facts the code relies on"). */
export function computerAttributes(spec: NewComputer): Attribute[] {
  const a = (type: string, ...values: string[]): Attribute => new Attribute({ type, values });
  const attrs = [
    a('objectClass', 'computer'),
    a('cn', spec.name),
    a('sAMAccountName', `${spec.name}$`),
    a('userAccountControl', String(WORKSTATION_TRUST_ACCOUNT)),
    new Attribute({ type: 'unicodePwd', values: [encodeUnicodePwd(spec.password)] }),
    a('dNSHostName', spec.fqdn),
    a('servicePrincipalName', ...expectedSpns(spec.name, spec.fqdn)),
    a('description', spec.description),
    a(MARKER_ATTRIBUTE, formatMarker(spec.marker)),
  ];
  if (spec.osName) attrs.push(a('operatingSystem', spec.osName));
  return attrs;
}

/** One attribute's first value, attribute names compared case-insensitively. */
export function attr(entry: Entry, name: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return undefined;
  const v = entry[key];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : first;
}

/** One attribute's first value as bytes (binary attributes), undefined when absent. */
export function binaryAttr(entry: Entry, name: string): Buffer | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return undefined;
  const v = entry[key];
  const first = Array.isArray(v) ? v[0] : v;
  return Buffer.isBuffer(first) ? first : undefined;
}

/**
 * objectGUID (16 bytes) → canonical GUID text: the first three fields are little-endian
 * (Microsoft's GUID layout), e.g. bytes 33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff →
 * 00112233-4455-6677-8899-aabbccddeeff. Anything that is not 16 bytes: undefined.
 */
export function guidToString(bytes: Buffer | undefined): string | undefined {
  if (bytes?.length !== 16) return undefined;
  const h = (from: number, to: number, reverse: boolean): string => {
    const part = [...bytes.subarray(from, to)];
    return Buffer.from(reverse ? part.reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

/** A binary SID (revision, count, 48-bit authority big-endian, sub-authorities little-endian) → S-1-5-21-…. */
export function sidToString(bytes: Buffer | undefined): string | undefined {
  if (bytes === undefined || bytes.length < 8) return undefined;
  const count = bytes[1] as number;
  if (bytes[0] !== 1 || count > 15 || bytes.length < 8 + 4 * count) return undefined;
  const authority = bytes.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(bytes.readUInt32LE(8 + 4 * i));
  return `S-1-${authority}${subs.map((x) => `-${x}`).join('')}`;
}

/** The owner SID of a self-relative security descriptor (OffsetOwner at byte 4); undefined when absent. */
export function ownerSidOf(sd: Buffer | undefined): string | undefined {
  if (sd === undefined || sd.length < 20 || sd[0] !== 1) return undefined;
  const offset = sd.readUInt32LE(4);
  if (offset === 0 || offset >= sd.length) return undefined;
  return sidToString(sd.subarray(offset));
}

/** GeneralizedTime (20261121100000.0Z) → Date (epoch 0 when unreadable). */
export function parseGeneralizedTime(text: string | undefined): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,]\d+)?Z$/.exec(text ?? '');
  if (!m) return new Date(0);
  const n = m.slice(1, 7).map(Number);
  const at = (k: number): number => n[k] ?? 0;
  return new Date(Date.UTC(at(0), at(1) - 1, at(2), at(3), at(4), at(5)));
}

/** A directory entry → the port's ComputerObject; `serviceSid` decides createdByUs. */
export function toComputerObject(entry: Entry, serviceSid?: string): ComputerObject {
  const guid = guidToString(binaryAttr(entry, 'objectGUID'));
  const ownerSid = ownerSidOf(binaryAttr(entry, 'nTSecurityDescriptor'));
  const creatorSid = sidToString(binaryAttr(entry, 'mS-DS-CreatorSID'));
  const createdByUs = serviceSid !== undefined && (ownerSid === serviceSid || creatorSid === serviceSid);
  const sam = attr(entry, 'sAMAccountName');
  const name = sam !== undefined ? sam.replace(/\$$/, '') : (attr(entry, 'cn') ?? '');
  const marker = parseMarker(attr(entry, MARKER_ATTRIBUTE));
  const description = attr(entry, 'description');
  const dnsHostName = attr(entry, 'dNSHostName');
  return {
    dn: entry.dn,
    name,
    ...(marker ? { marker } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(dnsHostName !== undefined ? { dnsHostName } : {}),
    whenCreated: parseGeneralizedTime(attr(entry, 'whenCreated')),
    ...(guid !== undefined ? { guid } : {}),
    ...(ownerSid !== undefined ? { ownerSid } : {}),
    createdByUs,
  };
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED',
]);

/** The Cause's advice when no connection to a domain controller could be made. */
export const DC_UNREACHABLE_ADVICE =
  'The domain controller did not answer: allow 636 (LDAPS) from the Lambda security group to the DC (its security group and any NACL), ' +
  'and check the DC address in directory.ldapUrls / domainControllers (README "Network prerequisites").';

/** The Cause's advice when the directory denies the service account an operation (LDAP result 50). */
export const RIGHTS_ADVICE =
  'The bind account lacks a right this needs: grant it, on the computer OU and below, create/delete computer objects, ' +
  'write their properties and Reset Password (README "Directory permissions"), then redrive.';

/** Any error from ldapts or the socket under it → our catalogue. */
export function mapLdapError(err: unknown, operation: string): AdjoinError {
  if (err instanceof AdjoinError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const text = `LDAP ${operation} failed: ${message}`.slice(0, 1000);
  if (err instanceof ResultCodeError) {
    const withCode = `${text} (LDAP result ${err.code})`;
    if (
      err instanceof InvalidCredentialsError ||
      err instanceof InappropriateAuthError ||
      err instanceof StrongAuthRequiredError ||
      err instanceof ConfidentialityRequiredError ||
      err instanceof AuthMethodNotSupportedError
    )
      return new DirectoryAuthFailed(`${withCode}. Check the bind account and its password (secret), and that LDAPS is used.`);
    if (err instanceof BusyError || err instanceof UnavailableError || err instanceof TimeLimitExceededError) return new DirectoryUnavailable(withCode);
    if (err instanceof InsufficientAccessError) return new DirectoryRefused(`${withCode}. ${RIGHTS_ADVICE}`);
    return new DirectoryRefused(withCode);
  }
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ((err as { code: string }).code) : '';
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
    return new DirectoryAuthFailed(
      `${text} (${code}). The domain controller's certificate did not verify: check the CA (caPem/caFile/caParameterName) and tlsServerName.`,
    );
  if (NETWORK_CODES.has(code) || /connection timeout|connect timeout|socket closed/i.test(message))
    return new DirectoryUnavailable(`${text}${code ? ` (${code})` : ''}. ${DC_UNREACHABLE_ADVICE}`);
  return new DirectoryUnavailable(text);
}

// ---- the adapter ---------------------------------------------------------------------------

export interface BindCredentials {
  /** A DN, a UPN (user@domain) or DOMAIN\user: AD accepts each for a simple bind. */
  bindDn: string;
  password: string;
}

export interface LdapDirectoryOptions {
  /** Where bind credentials come from (default: bindSecretId via Secrets Manager, or bindDn + bindPasswordFile). */
  credentials?: () => Promise<BindCredentials>;
  /** The CA PEM (default: caPem, caFile or caParameterName from the settings). */
  ca?: () => Promise<string | undefined>;
  secretsManager?: SecretsManagerClient;
  ssm?: SSMClient;
  /** Per-operation timeout (default 15 s) and connect timeout (default 5 s). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Builds the ldapts client (tests, or the lab's own transport). */
  createClient?: (options: ClientOptions) => Client;
  pageSize?: number;
}

function lazy<T>(load: () => Promise<T>): { get: () => Promise<T>; reset: () => void } {
  let p: Promise<T> | undefined;
  return {
    get: () => {
      p ??= load().catch((err: unknown) => {
        p = undefined;
        throw err;
      });
      return p;
    },
    reset: () => {
      p = undefined;
    },
  };
}

/**
 * Bind credentials from a Secrets Manager secret: {"username", "password"}, or the key names of
 * the secret AWS's seamless domain join reads ({"awsSeamlessDomainUsername",
 * "awsSeamlessDomainPassword"}), so one secret can serve both.
 */
export function parseBindSecret(secretString: string | undefined, secretId: string, domain: string): BindCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    parsed = undefined;
  }
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const pair = (user: string, pass: string): { u: unknown; p: unknown } | undefined =>
    o[user] !== undefined || o[pass] !== undefined ? { u: o[user], p: o[pass] } : undefined;
  const found = pair('username', 'password') ?? pair('awsSeamlessDomainUsername', 'awsSeamlessDomainPassword');
  const u = found?.u;
  const password = found?.p;
  if (typeof u !== 'string' || u === '' || typeof password !== 'string' || password === '')
    throw new DirectoryAuthFailed(
      `Bind secret ${secretId} is not JSON with non-empty "username" and "password" (or "awsSeamlessDomainUsername" and "awsSeamlessDomainPassword")`,
    );
  const bindDn = u.includes('=') || u.includes('@') || u.includes('\\') ? u : `${u}@${domain}`;
  return { bindDn, password };
}

export class LdapDirectory implements Directory {
  private readonly credentials: ReturnType<typeof lazy<BindCredentials>>;
  private readonly ca: ReturnType<typeof lazy<string | undefined>>;
  private readonly pageSize: number;
  /** The service account's objectSid, per bind identity (read once). */
  private serviceSid: { bindDn: string; sid: string } | undefined;

  constructor(
    private readonly config: DirectorySettings,
    private readonly options: LdapDirectoryOptions = {},
  ) {
    this.credentials = lazy(options.credentials ?? (() => this.loadCredentials()));
    this.ca = lazy(options.ca ?? (() => this.loadCa()));
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? PAGE_SIZE));
  }

  /** The bind credentials as configured (also read by the doctor's LDAP probe, tasks/adapters/ldap-doctor.ts). */
  async loadCredentials(): Promise<BindCredentials> {
    const c = this.config;
    if (c.bindSecretId) {
      const sm = this.options.secretsManager ?? traced(new SecretsManagerClient(awsClientConfig()));
      const out = await sm.send(new GetSecretValueCommand({ SecretId: c.bindSecretId })).catch((err: unknown) => {
        throw mapAwsError(err, `Secrets Manager GetSecretValue ${c.bindSecretId}`);
      });
      return parseBindSecret(out.SecretString, c.bindSecretId, c.domain);
    }
    if (c.bindDn && c.bindPasswordFile) {
      const password = (await readFile(c.bindPasswordFile, 'utf8').catch(() => {
        throw new DirectoryAuthFailed(`Cannot read the bind password file ${c.bindPasswordFile}`);
      })).replace(/\r?\n$/, '');
      return { bindDn: c.bindDn, password };
    }
    throw new DirectoryAuthFailed('No bind credentials configured (bindSecretId, or bindDn and bindPasswordFile)');
  }

  private async loadCa(): Promise<string | undefined> {
    const c = this.config;
    if (c.caPem) return c.caPem;
    if (c.caFile)
      return readFile(c.caFile, 'utf8').catch(() => {
        throw new DirectoryAuthFailed(`Cannot read the CA file ${c.caFile}`);
      });
    if (c.caParameterName) {
      const ssm = this.options.ssm ?? traced(new SSMClient(awsClientConfig()));
      const out = await ssm.send(new GetParameterCommand({ Name: c.caParameterName, WithDecryption: true })).catch((err: unknown) => {
        throw mapAwsError(err, `SSM GetParameter ${c.caParameterName}`);
      });
      return out.Parameter?.Value;
    }
    return undefined;
  }

  /** ldapts client options for one URL. */
  async clientOptions(url: string): Promise<ClientOptions> {
    const base = { url, timeout: this.options.timeoutMs ?? 15_000, connectTimeout: this.options.connectTimeoutMs ?? 5_000 };
    if (!url.startsWith('ldaps://')) {
      if (!this.config.insecure) throw new DirectoryAuthFailed(`Refusing plain LDAP to ${url}: set directory.insecure only in a lab`);
      return base;
    }
    const ca = await this.ca.get();
    const tlsOptions: ConnectionOptions = {
      rejectUnauthorized: !this.config.insecure,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca: [ca] } : {}),
      ...(this.serverNameOf(url) ? { servername: this.serverNameOf(url) } : {}),
    };
    return { ...base, tlsOptions };
  }

  /** The host name a URL's certificate must carry: its DC's (by IP), else tlsServerName. */
  serverNameOf(url: string): string | undefined {
    const host = urlHost(url);
    return this.config.domainControllers?.find((dc) => dc.ip === host)?.hostName ?? this.config.tlsServerName;
  }

  /** The DC (host name) behind a URL, for reports of which DC wrote an object. */
  domainControllerOf(url: string): string {
    const host = urlHost(url);
    return this.config.domainControllers?.find((dc) => dc.ip === host)?.hostName ?? host;
  }

  /** The URL each bound client reached (which DC wrote what). */
  private readonly urlOf = new WeakMap<Client, string>();

  /** The DC (host name) a bound client talks to. */
  private dcOfClient(client: Client): string | undefined {
    const url = this.urlOf.get(client);
    return url === undefined ? undefined : this.domainControllerOf(url);
  }

  /** A bound client: tries each URL in order; only "unavailable" moves on to the next one. */
  private async connect(): Promise<Client> {
    const creds = await this.credentials.get();
    const failures: string[] = [];
    for (const url of this.config.ldapUrls) {
      const client = (this.options.createClient ?? ((o: ClientOptions) => new Client(o)))(await this.clientOptions(url));
      try {
        await client.bind(creds.bindDn, creds.password);
        this.urlOf.set(client, url);
        return client;
      } catch (err) {
        await unbindQuietly(client);
        const mapped = mapLdapError(err, `bind to ${url}`);
        if (mapped instanceof DirectoryAuthFailed) this.credentials.reset(); // a rotated secret is re-read next time
        if (!(mapped instanceof DirectoryUnavailable)) throw mapped;
        failures.push(mapped.message);
      }
    }
    throw new DirectoryUnavailable(`No domain controller answered: ${failures.join(' | ')}`.slice(0, 2000));
  }

  private async withClient<T>(operation: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(client);
    } catch (err) {
      throw mapLdapError(err, operation);
    } finally {
      await unbindQuietly(client);
    }
  }

  /**
   * The objectSid of the account we bind as: a DN is read directly; a UPN or DOMAIN\user is
   * looked up by userPrincipalName / sAMAccountName (exactly one match, else none: nothing is
   * then "created by us", and only a recorded GUID proves ownership).
   */
  private async serviceAccountSid(client: Client): Promise<string | undefined> {
    const { bindDn } = await this.credentials.get();
    if (this.serviceSid?.bindDn === bindDn) return this.serviceSid.sid;
    const opts = { attributes: ['objectSid'], explicitBufferAttributes: BINARY_ATTRIBUTES, sizeLimit: 2 };
    let entries: Entry[];
    if (bindDn.includes('=')) {
      ({ searchEntries: entries } = await client.search(bindDn, { ...opts, scope: 'base' }));
    } else {
      const user = bindDn.includes('\\') ? (bindDn.split('\\')[1] ?? '') : bindDn;
      const local = user.split('@')[0] ?? '';
      const filter = user.includes('@')
        ? new OrFilter({ filters: [eq('userPrincipalName', user), eq('sAMAccountName', local)] })
        : eq('sAMAccountName', local);
      ({ searchEntries: entries } = await client.search(this.config.baseDn, { ...opts, scope: 'sub', filter }));
    }
    const sid = entries.length === 1 && entries[0] ? sidToString(binaryAttr(entries[0], 'objectSid')) : undefined;
    if (sid !== undefined) this.serviceSid = { bindDn, sid };
    return sid;
  }

  private async searchObjects(client: Client, base: string, filter: Filter, scope: 'sub' | 'base' = 'sub'): Promise<ComputerObject[]> {
    const serviceSid = await this.serviceAccountSid(client);
    const { searchEntries } = await client.search(
      base,
      { scope, filter, attributes: COMPUTER_ATTRIBUTES, explicitBufferAttributes: BINARY_ATTRIBUTES, sizeLimit: 1000 },
      new SdFlagsControl(),
    );
    return searchEntries.map((e) => toComputerObject(e, serviceSid));
  }

  findByMarker(marker: Marker): Promise<ComputerObject[]> {
    return this.withClient('search by marker', async (client) => {
      const found = new Map<string, ComputerObject>();
      for (const ou of this.config.managedOus)
        for (const o of await this.searchObjects(client, ou, markerFilter(marker))) found.set(o.dn.toLowerCase(), o);
      return [...found.values()];
    });
  }

  findByName(name: string): Promise<ComputerObject | undefined> {
    return this.withClient('search by name', async (client) => (await this.searchObjects(client, this.config.baseDn, nameFilter(name)))[0]);
  }

  async createComputer(spec: NewComputer): Promise<ComputerObject> {
    if (!isValidComputerName(spec.name)) throw new InvalidInput(`Not a valid computer name: ${JSON.stringify(spec.name)}`);
    // A managed OU or an OU inside one (routing: tasks/lib/routing.ts), never anywhere else.
    if (!this.config.managedOus.some((ou) => sameDn(ou, spec.ou) || isInside(spec.ou, ou)))
      throw new DirectoryRefused(`Refusing to create ${spec.name} in ${spec.ou}: not a managed OU or inside one`);
    const dn = computerDn(spec.name, spec.ou);
    return this.withClient(`add ${dn}`, async (client) => {
      try {
        await client.add(dn, computerAttributes(spec));
      } catch (err) {
        const msg = err instanceof Error ? err.message : '';
        if (err instanceof AlreadyExistsError || /already in use|already exists/i.test(msg))
          throw new ComputerNameConflict(await this.describeHolder(client, spec.name, dn));
        throw err;
      }
      // Read it back: its objectGUID (what the join records) and owner come from the directory.
      const made = (await this.searchObjects(client, dn, new PresenceFilter({ attribute: 'objectClass' }), 'base'))[0];
      if (made === undefined) throw new DirectoryUnavailable(`${dn} was added but could not be read back`);
      const dc = this.dcOfClient(client);
      return { ...made, ...(dc ? { domainController: dc } : {}) };
    });
  }

  /** Who holds a name we could not add: the object at the DN and/or the sAMAccountName holder. */
  private async describeHolder(client: Client, name: string, dn: string): Promise<string> {
    const parts: string[] = [];
    const holder = (await this.searchObjects(client, this.config.baseDn, nameFilter(name)).catch(() => []))[0];
    if (holder) parts.push(`${name}$ is held by ${holder.dn}${holder.marker ? ` (marker of ${holder.marker.instanceId})` : ' (not ours)'}`);
    const atDn = await client.search(dn, { scope: 'base', attributes: ['1.1'] }).then(
      (r) => r.searchEntries.length > 0,
      () => false,
    );
    if (atDn && !(holder && sameDn(holder.dn, dn))) parts.push(`an object already exists at ${dn}`);
    return `Computer name ${name} is already in use: ${parts.length > 0 ? parts.join('; ') : 'the directory said so'}`;
  }

  resetPassword(dn: string, password: string): Promise<{ domainController?: string }> {
    return this.withClient(`reset password of ${dn}`, async (client) => {
      await client.modify(
        dn,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [encodeUnicodePwd(password)] }) }),
      );
      const dc = this.dcOfClient(client);
      return dc ? { domainController: dc } : {};
    });
  }

  deleteComputer(dn: string): Promise<void> {
    return this.withClient(`delete ${dn}`, async (client) => {
      try {
        await client.del(dn, new Control(TREE_DELETE_OID, { critical: true }));
      } catch (err) {
        if (err instanceof NoSuchObjectError) return;
        throw err;
      }
    });
  }

  async deleteDnsRecords(hostname: string): Promise<number> {
    const node = dnsNodeName(hostname, this.config.domain);
    if (node === undefined) return 0; // not in the domain's zone: not ours to clean
    if (!DNS_NODE.test(node)) throw new InvalidInput(`Not a host name: ${JSON.stringify(hostname.slice(0, 70))}`);
    return this.withClient(`delete DNS records of ${hostname}`, async (client) => {
      let removed = 0;
      for (const zone of dnsZoneDns(this.config.domain, this.config.baseDn)) {
        let entries: Entry[];
        try {
          ({ searchEntries: entries } = await client.search(zone, { scope: 'one', filter: dnsNodeFilter(node), attributes: ['1.1'] }));
        } catch (err) {
          if (err instanceof NoSuchObjectError) continue; // no such zone in this partition
          throw err;
        }
        for (const e of entries) {
          try {
            await client.del(e.dn);
            removed++;
          } catch (err) {
            if (!(err instanceof NoSuchObjectError)) throw err;
          }
        }
      }
      return removed;
    });
  }

  async *listManaged(): AsyncIterable<ComputerObject[]> {
    const client = await this.connect();
    try {
      const serviceSid = await this.serviceAccountSid(client).catch((err: unknown) => {
        throw mapLdapError(err, 'read the service account');
      });
      const seen = new Set<string>();
      for (const ou of this.config.managedOus) {
        const pages = client.searchPaginated(
          ou,
          {
            scope: 'sub',
            filter: managedFilter(),
            attributes: COMPUTER_ATTRIBUTES,
            explicitBufferAttributes: BINARY_ATTRIBUTES,
            paged: { pageSize: this.pageSize },
          },
          new SdFlagsControl(),
        );
        for (;;) {
          let next: IteratorResult<{ searchEntries: Entry[] }>;
          try {
            next = await pages.next();
          } catch (err) {
            throw mapLdapError(err, `paged search of ${ou}`);
          }
          if (next.done) break;
          const page = next.value.searchEntries.map((e) => toComputerObject(e, serviceSid)).filter((o) => {
            const k = o.dn.toLowerCase();
            if (seen.has(k)) return false;
            seen.add(k);
            return true;
          });
          if (page.length > 0) yield page;
        }
      }
    } finally {
      await unbindQuietly(client);
    }
  }
}

const urlHost = (url: string): string => /^ldaps?:\/\/\[?([^\]/:]+)/i.exec(url)?.[1] ?? url;

async function unbindQuietly(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // the connection is already gone: nothing to release
  }
}
