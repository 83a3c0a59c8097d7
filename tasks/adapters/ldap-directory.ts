/**
 * Directory over LDAPS with ldapts — the only file that imports ldapts. Every method binds
 * once (trying settings.directory.ldapUrls in order), does its work, and unbinds in `finally`.
 * Certificates are verified against the configured CA (servername = tlsServerName); plain LDAP
 * or unverified TLS only with `insecure`. Every filter value is escaped by ldapts' filter
 * classes (RFC 4515), every DN value by escapeDnValue (RFC 4514), and every ldapts error becomes
 * one of ours (mapLdapError): ldapts errors carry no `name` Step Functions could route on.
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
  InvalidCredentialsError,
  NoSuchObjectError,
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
import { sameDn } from '../lib/dn';
import { formatMarker, MARKER_ATTRIBUTE, parseMarker } from '../lib/marker';
import { isValidComputerName } from '../lib/naming';
import type { ComputerObject, Directory, Marker, NewComputer } from '../lib/ports';
import type { Settings } from '../lib/settings';
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
export const COMPUTER_ATTRIBUTES = ['sAMAccountName', 'cn', MARKER_ATTRIBUTE, 'description', 'dNSHostName', 'whenCreated'];

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

/** GeneralizedTime (20261121100000.0Z) → Date (epoch 0 when unreadable). */
export function parseGeneralizedTime(text: string | undefined): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,]\d+)?Z$/.exec(text ?? '');
  if (!m) return new Date(0);
  const n = m.slice(1, 7).map(Number);
  const at = (k: number): number => n[k] ?? 0;
  return new Date(Date.UTC(at(0), at(1) - 1, at(2), at(3), at(4), at(5)));
}

export function toComputerObject(entry: Entry): ComputerObject {
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
    return new DirectoryRefused(withCode);
  }
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ((err as { code: string }).code) : '';
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
    return new DirectoryAuthFailed(
      `${text} (${code}). The domain controller's certificate did not verify: check the CA (caPem/caFile/caParameterName) and tlsServerName.`,
    );
  if (NETWORK_CODES.has(code)) return new DirectoryUnavailable(`${text} (${code})`);
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

/** Bind credentials from a Secrets Manager secret {"username", "password"}. */
export function parseBindSecret(secretString: string | undefined, secretId: string, domain: string): BindCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    parsed = undefined;
  }
  const o = parsed as { username?: unknown; password?: unknown } | undefined;
  if (typeof o?.username !== 'string' || o.username === '' || typeof o.password !== 'string' || o.password === '')
    throw new DirectoryAuthFailed(`Bind secret ${secretId} is not JSON with non-empty "username" and "password"`);
  const u = o.username;
  const bindDn = u.includes('=') || u.includes('@') || u.includes('\\') ? u : `${u}@${domain}`;
  return { bindDn, password: o.password };
}

export class LdapDirectory implements Directory {
  private readonly credentials: ReturnType<typeof lazy<BindCredentials>>;
  private readonly ca: ReturnType<typeof lazy<string | undefined>>;
  private readonly pageSize: number;

  constructor(
    private readonly config: DirectorySettings,
    private readonly options: LdapDirectoryOptions = {},
  ) {
    this.credentials = lazy(options.credentials ?? (() => this.loadCredentials()));
    this.ca = lazy(options.ca ?? (() => this.loadCa()));
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? PAGE_SIZE));
  }

  private async loadCredentials(): Promise<BindCredentials> {
    const c = this.config;
    if (c.bindSecretId) {
      const sm = this.options.secretsManager ?? traced(new SecretsManagerClient({ retryMode: 'adaptive' }));
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
      const ssm = this.options.ssm ?? traced(new SSMClient({ retryMode: 'adaptive' }));
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
      ...(this.config.tlsServerName ? { servername: this.config.tlsServerName } : {}),
    };
    return { ...base, tlsOptions };
  }

  /** A bound client: tries each URL in order; only "unavailable" moves on to the next one. */
  private async connect(): Promise<Client> {
    const creds = await this.credentials.get();
    const failures: string[] = [];
    for (const url of this.config.ldapUrls) {
      const client = (this.options.createClient ?? ((o: ClientOptions) => new Client(o)))(await this.clientOptions(url));
      try {
        await client.bind(creds.bindDn, creds.password);
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

  private async searchObjects(client: Client, base: string, filter: Filter): Promise<ComputerObject[]> {
    const { searchEntries } = await client.search(base, { scope: 'sub', filter, attributes: COMPUTER_ATTRIBUTES, sizeLimit: 1000 });
    return searchEntries.map(toComputerObject);
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
    if (!this.config.managedOus.some((ou) => sameDn(ou, spec.ou)))
      throw new DirectoryRefused(`Refusing to create ${spec.name} in ${spec.ou}: not a managed OU`);
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
      return {
        dn,
        name: spec.name,
        marker: spec.marker,
        description: spec.description,
        dnsHostName: spec.fqdn,
        whenCreated: new Date(),
      };
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

  resetPassword(dn: string, password: string): Promise<void> {
    return this.withClient(`reset password of ${dn}`, async (client) => {
      await client.modify(
        dn,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [encodeUnicodePwd(password)] }) }),
      );
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
      const seen = new Set<string>();
      for (const ou of this.config.managedOus) {
        const pages = client.searchPaginated(ou, {
          scope: 'sub',
          filter: managedFilter(),
          attributes: COMPUTER_ATTRIBUTES,
          paged: { pageSize: this.pageSize },
        });
        for (;;) {
          let next: IteratorResult<{ searchEntries: Entry[] }>;
          try {
            next = await pages.next();
          } catch (err) {
            throw mapLdapError(err, `paged search of ${ou}`);
          }
          if (next.done) break;
          const page = next.value.searchEntries.map(toComputerObject).filter((o) => {
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

async function unbindQuietly(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // the connection is already gone: nothing to release
  }
}
