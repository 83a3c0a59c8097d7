/**
 * The user's configuration: typed, validated once at synth time, with each directory kind's
 * defaults. It comes from cdk.json context `adjoin:config` (an object) or from the JSON file
 * named by context `adjoin:configFile`. A bad configuration throws ConfigurationError naming
 * EVERY bad key (unknown keys too, so a typo is not silently ignored).
 *
 * resolveConfig() gives a ResolvedConfig (all defaults filled in); toSettings() turns it into
 * the runtime Settings of every task Lambda (checked again with validateSettings).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigurationError } from '../tasks/lib/errors';
import { resolveLinuxConfig } from './config-admin';
import { resolveWindowsConfig, windowsSettingsOf, type WindowsConfig, type WindowsConfigInput } from './config-windows';
import { ldapUrlHostIsIp, LOGIN_GROUP_LIMIT, loginGroupProblem, parseTag, scheduleProblem } from './config-checks';
import { STRICT_DN_PATTERN } from '../tasks/lib/dn';
import { validateSettings, type DirectoryKind, type IdMapping, type Settings } from '../tasks/lib/settings';
import type { LinuxSettings } from '../tasks/lib/linux-settings';
import { DEFAULT_PACING, PACED_APIS, type PacedApi, type PacingSettings } from '../tasks/lib/pace';
import { reachSettings, ReachKeys, ReachTagKeys, resolveReach, type ReachConfig } from './config-reach';
import { resolveLambdaConfig, type LambdaConfig, type LambdaConfigInput } from './lambda-config';

// ---- what the user writes --------------------------------------------------------------------

export interface DomainControllerInput {
  /** Host name the DC's LDAPS certificate is issued to, e.g. dc1.corp.example.com. */
  hostName: string;
  /** Its IP address (written into the instance's resolver by the join document). */
  ip: string;
}

export interface AdjoinConfigInput {
  directory: {
    kind: DirectoryKind;
    domain: string;
    netbiosName: string;
    /** Optional with directoryId (then read from Directory Service at run time); required otherwise. */
    domainControllers?: DomainControllerInput[];
    /**
     * AWS Managed Microsoft AD only. Without domainControllers, the tasks that talk to the directory
     * read its DC IPs from Directory Service at cold start (tlsServerName then required).
     */
    directoryId?: string;
    ldapUrls?: string[];
    tlsServerName?: string;
    caBundleFile?: string;
    insecure?: boolean;
    serviceAccountSecret: string;
    serviceAccountSecretKmsKeyArn?: string;
    computerOu?: string;
    managedOus?: string[];
    loginGroups?: string[];
    probeUsers?: string[];
    idMapping?: { mode: 'sid'; domainSid: string } | { mode: 'rfc2307' };
  };
  tags?: {
    optIn?: string;
    optOut?: string;
    loginGroupKey?: string;
    statusPrefix?: string;
    restrictCommandsToOptedIn?: boolean;
  };
  naming?: { prefix?: string };
  timings?: {
    settleSeconds?: number;
    ssmOnlineDeadlineSeconds?: number;
    commandDeadlineSeconds?: number;
    claimLeaseSeconds?: number;
  };
  /**
   * SSM calls per second per account and Region that a burst of joins paces itself to, in lines
   * shared by every adjoin Lambda (tasks/lib/pace.ts). Defaults: sendCommand 5,
   * getCommandInvocation 10, describeInstanceInformation 10 (SSM publishes no per-API rate; set
   * your account's quota). 0: not paced (throttled calls are retried with back-off instead).
   */
  pacing?: PacingSettings;
  reconcile?: {
    enabled?: boolean;
    schedule?: string;
    graceSeconds?: number;
    maxDeletions?: number;
    dryRun?: boolean;
  };
  network: {
    vpcId: string;
    subnetIds: string[];
    securityGroupIds: string[];
    availabilityZones?: string[];
    /** Create the interface VPC endpoints the task Lambdas call (default false: bring a NAT or your own). */
    createEndpoints?: boolean;
    /** The subnets' route tables: the DynamoDB gateway endpoint adds its route there (required with createEndpoints). */
    routeTableIds?: string[];
  };
  alarms?: { email?: string; topicArn?: string };
  /** Linux host settings of the join (infra/config-admin.ts). */
  linux?: { sudoGroups?: string[]; setHostname?: boolean; dynamicDns?: boolean; sssdOptions?: Record<string, string | number | boolean>; krb5Rdns?: boolean };
  /** Windows joins (infra/config-windows.ts); off by default. */
  windows?: WindowsConfigInput;
  resourcePrefix?: string;
  memberAccounts?: string[];
  memberRoleName?: string;
  logRetentionDays?: number;
  env?: { account?: string; region?: string };
  /** Task functions: memory, reserved concurrency, source maps (infra/lambda-config.ts). */
  lambda?: LambdaConfigInput;
}

// ---- what the rest of infra/ reads ---------------------------------------------------------

export interface ResolvedConfig {
  directory: {
    kind: DirectoryKind;
    domain: string;
    netbiosName: string;
    baseDn: string;
    domainControllers: DomainControllerInput[];
    directoryId?: string;
    ldapUrls: string[];
    tlsServerName?: string;
    /** The CA bundle (PEM), read at synth from caBundleFile. Absent only when insecure. */
    caPem?: string;
    insecure: boolean;
    serviceAccountSecret: string;
    serviceAccountSecretKmsKeyArn?: string;
    computerOu: string;
    managedOus: string[];
    loginGroups: string[];
    probeUsers: string[];
    idMapping: IdMapping;
  };
  tags: {
    optIn: { key: string; value: string };
    optOut: { key: string; value: string };
    loginGroupKey: string;
    statusPrefix: string;
    restrictCommandsToOptedIn: boolean;
  };
  naming: { prefix: string };
  timings: { settleSeconds: number; ssmOnlineDeadlineSeconds: number; commandDeadlineSeconds: number; claimLeaseSeconds: number };
  /** SSM calls per second per account and Region the joins pace themselves to (tasks/lib/pace.ts); 0: not paced. */
  pacing: Required<PacingSettings>;
  reconcile: { enabled: boolean; schedule: string; graceSeconds: number; maxDeletions: number; dryRun: boolean };
  network: { vpcId: string; subnetIds: string[]; securityGroupIds: string[]; availabilityZones?: string[]; createEndpoints: boolean; routeTableIds?: string[] };
  alarms: { email?: string; topicArn?: string };
  linux: LinuxSettings;
  windows: WindowsConfig;
  resourcePrefix: string;
  memberAccounts: string[];
  memberRoleName: string;
  logRetentionDays: number;
  env: { account?: string; region?: string };
  /** Entry points, member Regions, many directories (infra/config-reach.ts). */
  reach: ReachConfig<ResolvedConfig['directory']>;
  lambda: LambdaConfig;
}

/** Defaults that do not depend on the directory kind. */
export const Defaults = {
  optIn: 'Domain:Join=true',
  optOut: 'autoadjoin=false',
  loginGroupKey: 'adGroupName',
  statusPrefix: 'adjoin:',
  settleSeconds: 0,
  ssmOnlineDeadlineSeconds: 600,
  commandDeadlineSeconds: 600,
  reconcileSchedule: 'rate(6 hours)',
  graceSeconds: 86400,
  maxDeletions: 25,
  resourcePrefix: 'adjoin',
  logRetentionDays: 90,
} as const;

/** CloudWatch Logs retention values (days). */
const RetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Where parameters and names live, derived from the resource prefix. */
export const resourceNames = (prefix: string) => ({
  joinDocument: `${prefix}-join`,
  verifyDocument: `${prefix}-verify`,
  windowsJoinDocument: `${prefix}-join-windows`,
  caParameter: `/${prefix}/ca-bundle`,
  otpParameterPrefix: `/${prefix}/otp/`,
  /** The one-time-password KMS key's alias: the same in every account (infra/otp.ts). */
  otpKeyAlias: `alias/${prefix}-otp`,
  stateMachine: (workflow: 'join' | 'join-cleanup' | 'leave' | 'reconcile') => `${prefix}-${workflow}`,
  /** The EventBridge rule that starts the join-cleanup machine when a join ends badly (`adjoin doctor` checks it). */
  joinCleanupRule: `${prefix}-join-ended-badly`,
});

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects every problem, then throws once. */
class Checker {
  readonly problems: string[] = [];
  constructor(private readonly root: Record<string, unknown>) {}

  get(key: string): unknown {
    return key.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), this.root);
  }
  bad(key: string, why: string): undefined {
    this.problems.push(`${key}: ${why}`);
    return undefined;
  }
  /** Reports keys not in `allowed` under the object at `key` ('' = root). */
  known(key: string, allowed: string[]): void {
    const v = key === '' ? this.root : this.get(key);
    if (v === undefined) return;
    if (!isObj(v)) {
      this.bad(key, 'must be an object');
      return;
    }
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.bad(key === '' ? k : `${key}.${k}`, 'unknown key');
  }
  str(key: string, opts: { def?: string; re?: RegExp; hint?: string } = {}): string | undefined {
    const v = this.get(key);
    if (v === undefined) return opts.def ?? this.bad(key, 'is required');
    if (typeof v !== 'string' || v.trim() === '') return this.bad(key, 'must be a non-empty string');
    if (opts.re && !opts.re.test(v)) return this.bad(key, `${JSON.stringify(v)} is not valid${opts.hint ? ` (${opts.hint})` : ''}`);
    return v;
  }
  optStr(key: string, re?: RegExp, hint?: string): string | undefined {
    return this.get(key) === undefined ? undefined : this.str(key, { ...(re ? { re } : {}), ...(hint ? { hint } : {}) });
  }
  list(key: string, opts: { def?: string[]; min?: number; re?: RegExp; hint?: string } = {}): string[] | undefined {
    const v = this.get(key);
    if (v === undefined) {
      if (opts.def !== undefined) return opts.def;
      return this.bad(key, 'is required');
    }
    const min = opts.min ?? 0;
    if (!Array.isArray(v) || v.length < min || v.some((x) => typeof x !== 'string' || x.trim() === ''))
      return this.bad(key, `must be a list of at least ${min} non-empty string(s)`);
    const bad = opts.re ? (v as string[]).filter((x) => !opts.re!.test(x)) : [];
    if (bad.length > 0) return this.bad(key, `${bad.map((x) => JSON.stringify(x)).join(', ')} not valid${opts.hint ? ` (${opts.hint})` : ''}`);
    return v as string[];
  }
  int(key: string, def: number, min: number, max: number): number | undefined {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return this.bad(key, `must be a whole number from ${min} to ${max}`);
    return v;
  }
  /** Calls per second: 0 (not paced) to 1000, fractions allowed. */
  rate(key: string, def: number): number | undefined {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1000) return this.bad(key, 'must be calls per second from 0 (not paced) to 1000 (your account\'s quota for that API in each Region)');
    return v;
  }
  bool(key: string, def: boolean): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') return this.bad(key, 'must be true or false');
    return v;
  }
  /** "key=value" tag spec, parsed strictly (config-checks.ts parseTag). */
  tag(key: string, def: string): { key: string; value: string } | undefined {
    const v = this.get(key) ?? def;
    if (typeof v !== 'string') return this.bad(key, 'must be a string key=value');
    const { tag, problem } = parseTag(v);
    return problem ? this.bad(key, problem) : tag;
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const IPV4_RE = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** An OU DN in the strict form (tasks/lib/dn.ts STRICT_DN_PATTERN, the join document's pattern for ComputerOu), starting with OU=. */
const OU_DN_RE = new RegExp(`^(?=[Oo][Uu]=)(?=.{1,1024}$)${STRICT_DN_PATTERN.slice(1)}`);
const OU_DN_HINT = 'an OU DN of OU=/CN=/DC= RDNs; commas, quotes, $, backticks, semicolons and control characters only as AD escapes (\\, or \\2C)';
const SECRET_RE = /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$/;

/** DC=corp,DC=example,DC=com from corp.example.com. */
export const baseDnOf = (domain: string): string =>
  domain.split('.').map((label) => `DC=${label}`).join(',');

/** The computer OU a directory kind uses when none is given. */
export function defaultComputerOu(kind: DirectoryKind, domain: string, netbiosName: string): string | undefined {
  const base = baseDnOf(domain);
  // A dedicated OU, never the shared computers container: leave and reconcile delete only in
  // managedOus, so nothing adjoin did not create may ever sit there (docs/security-notes.md).
  if (kind === 'aws-managed') return `OU=adjoin,OU=Computers,OU=${netbiosName},${base}`;
  // Entra DS: custom OUs are created at the domain root (by AAD DC Administrators).
  if (kind === 'entra-ds') return `OU=adjoin,${base}`;
  return undefined;
}

export interface ResolveOptions {
  /** Folder that relative file names (caBundleFile) are read from. Default: the working directory. */
  baseDir?: string;
}

/** Validates the user's configuration and fills in every default. Throws ConfigurationError. */
export function resolveConfig(input: unknown, options: ResolveOptions = {}): ResolvedConfig {
  if (!isObj(input)) throw new ConfigurationError(['config: must be a JSON object']);
  // ---- reach (infra/config-reach.ts): with `directories`, the first one is also `directory` ----
  const many = input.directories;
  const raw = input.directory === undefined && isObj(many) && Object.values(many)[0] !== undefined ? { ...input, directory: Object.values(many)[0] } : input;
  const c = new Checker(raw);
  c.known('', ['directory', 'tags', 'naming', 'timings', 'pacing', 'reconcile', 'network', 'alarms', 'linux', 'windows', 'resourcePrefix', 'memberAccounts', 'memberRoleName', 'logRetentionDays', 'env', 'lambda', '$comment', ...ReachKeys]);
  c.known('directory', ['kind', 'domain', 'netbiosName', 'domainControllers', 'ldapUrls', 'tlsServerName', 'caBundleFile', 'insecure',
    'serviceAccountSecret', 'serviceAccountSecretKmsKeyArn', 'computerOu', 'managedOus', 'loginGroups', 'probeUsers', 'idMapping', 'directoryId']);
  c.known('tags', ['optIn', 'optOut', 'loginGroupKey', 'statusPrefix', 'restrictCommandsToOptedIn', ...ReachTagKeys]);
  c.known('naming', ['prefix']);
  c.known('timings', ['settleSeconds', 'ssmOnlineDeadlineSeconds', 'commandDeadlineSeconds', 'claimLeaseSeconds']);
  c.known('pacing', [...PACED_APIS]);
  c.known('reconcile', ['enabled', 'schedule', 'graceSeconds', 'maxDeletions', 'dryRun']);
  c.known('network', ['vpcId', 'subnetIds', 'securityGroupIds', 'availabilityZones', 'createEndpoints', 'routeTableIds']);
  c.known('alarms', ['email', 'topicArn']);
  c.known('env', ['account', 'region']);
  if (!isObj(raw.directory)) c.bad('directory', 'is required (an object)');
  if (!isObj(raw.network)) c.bad('network', 'is required (an object: vpcId, subnetIds, securityGroupIds)');

  // ---- directory ----
  const kindRaw = c.get('directory.kind');
  const kind: DirectoryKind | undefined =
    kindRaw === 'aws-managed' || kindRaw === 'entra-ds' || kindRaw === 'self-managed'
      ? kindRaw
      : c.bad('directory.kind', 'must be aws-managed, entra-ds or self-managed');
  const domain = c.str('directory.domain', { re: DOMAIN_RE, hint: 'a DNS domain such as corp.example.com' })?.toLowerCase();
  const netbiosName = c.str('directory.netbiosName', { re: /^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/, hint: '1 to 15 letters, digits or hyphens' })?.toUpperCase();
  const baseDn = domain ? baseDnOf(domain) : undefined;

  const directoryId = c.optStr('directory.directoryId', /^d-[0-9a-f]{10}$/, 'an AWS Directory Service ID, d- and 10 hex digits');
  if (directoryId && kind !== undefined && kind !== 'aws-managed') c.bad('directory.directoryId', 'is only for kind aws-managed');
  const dcsRaw = c.get('directory.domainControllers');
  let domainControllers: DomainControllerInput[] | undefined;
  // With directoryId, no DCs: the directory tasks read them from Directory Service at cold start (tasks/lib/directory-lookup.ts).
  const lookedUp = directoryId !== undefined && (dcsRaw === undefined || (Array.isArray(dcsRaw) && dcsRaw.length === 0));
  if (lookedUp) {
    domainControllers = [];
  } else if (!Array.isArray(dcsRaw) || dcsRaw.length === 0) {
    c.bad('directory.domainControllers', 'must list at least one {hostName, ip}' + (kind === 'aws-managed'
      ? '; for AWS Managed Microsoft AD: set directory.directoryId instead (the DCs are then read from Directory Service at run time), ' +
        'or pin them: `adjoin directory-info --directory-id d-…` prints the block, the host names from `Get-ADDomainController -Filter * | Select HostName,IPv4Address` (README "AWS Managed Microsoft AD: before the first deploy")'
      : ''));
  } else {
    domainControllers = [];
    dcsRaw.forEach((dc: unknown, i) => {
      const key = `directory.domainControllers[${i}]`;
      if (!isObj(dc)) return void c.bad(key, 'must be an object {hostName, ip}');
      for (const k of Object.keys(dc)) if (k !== 'hostName' && k !== 'ip') c.bad(`${key}.${k}`, 'unknown key');
      const hostName = typeof dc.hostName === 'string' && DOMAIN_RE.test(dc.hostName) ? dc.hostName.toLowerCase() : c.bad(`${key}.hostName`, 'must be a DNS host name');
      const ip = typeof dc.ip === 'string' && IPV4_RE.test(dc.ip) ? dc.ip : c.bad(`${key}.ip`, 'must be an IPv4 address');
      if (hostName && ip) domainControllers?.push({ hostName, ip });
    });
  }

  const insecure = c.bool('directory.insecure', false);
  if (insecure === true && kind === 'entra-ds') c.bad('directory.insecure', 'Microsoft Entra Domain Services needs LDAPS: insecure is not allowed');
  const ldapUrls = c.list('directory.ldapUrls', {
    def: domainControllers?.map((dc) => `ldaps://${dc.hostName}:636`) ?? [],
    min: 1,
    re: insecure ? /^ldaps?:\/\/[^\s/]+$/ : /^ldaps:\/\/[^\s/]+$/,
    hint: insecure ? 'ldap://host[:port] or ldaps://host[:port]' : 'ldaps://host[:port]; plain LDAP needs directory.insecure=true',
  });
  const tlsServerName = c.optStr('directory.tlsServerName', DOMAIN_RE, 'a DNS host name');
  if (lookedUp && c.get('directory.ldapUrls') === undefined && !tlsServerName && insecure !== true)
    c.bad('directory.tlsServerName', `is required with directory.directoryId and no domainControllers: the tasks reach the DCs at the IPs Directory Service gives (ldaps://<ip>:636), ` +
      'a certificate names a host, never an IP, and no API returns the names on the DC certificates. Set the name every DC certificate carries ' +
      `(with a template duplicated from "Kerberos Authentication", as AWS's LDAPS guide does: the domain name, ${domain ?? 'corp.example.com'}), ` +
      'or pin directory.domainControllers (`adjoin directory-info` prints the block)');
  const ipUrls = (ldapUrls ?? []).filter((u) => u.startsWith('ldaps://') && ldapUrlHostIsIp(u));
  if (ipUrls.length > 0 && !tlsServerName && insecure !== true)
    c.bad('directory.tlsServerName', `is required when directory.ldapUrls hold IP addresses (${ipUrls.join(', ')}): a DC certificate names a host, never an IP, so set the host name it is issued to (e.g. dc1.${domain ?? 'corp.example.com'})`);

  let caPem: string | undefined;
  const caFile = c.get('directory.caBundleFile');
  if (caFile === undefined) {
    if (insecure !== true) c.bad('directory.caBundleFile', 'is required to verify LDAPS (a PEM file of the CA that issued the DC certificates)');
  } else if (typeof caFile !== 'string' || caFile === '') {
    c.bad('directory.caBundleFile', 'must be a file name');
  } else {
    const file = path.resolve(options.baseDir ?? process.cwd(), caFile);
    try {
      caPem = fs.readFileSync(file, 'utf8');
      if (!caPem.includes('-----BEGIN CERTIFICATE-----')) caPem = c.bad('directory.caBundleFile', `${file} holds no PEM certificate`);
      else if (Buffer.byteLength(caPem) > 8192) caPem = c.bad('directory.caBundleFile', `${file} is over 8 KB (an SSM parameter's limit); keep only the issuing CA chain`);
    } catch {
      c.bad('directory.caBundleFile', `cannot read ${file}`);
    }
  }

  const serviceAccountSecret = c.str('directory.serviceAccountSecret', { re: SECRET_RE, hint: 'a Secrets Manager secret ARN or name' });
  const serviceAccountSecretKmsKeyArn = c.optStr('directory.serviceAccountSecretKmsKeyArn', /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'a KMS key ARN');

  const kindOu = kind && domain && netbiosName ? defaultComputerOu(kind, domain, netbiosName) : undefined;
  const computerOuRaw = c.get('directory.computerOu');
  const computerOu = computerOuRaw === undefined && kind === 'self-managed'
    ? c.bad('directory.computerOu', 'is required for a self-managed directory')
    : c.str('directory.computerOu', { ...(kindOu ? { def: kindOu } : {}), re: OU_DN_RE, hint: OU_DN_HINT });
  const managedOus = c.list('directory.managedOus', { ...(computerOu ? { def: [computerOu] } : {}), min: 1, re: OU_DN_RE, hint: OU_DN_HINT });
  if (computerOu && managedOus && !managedOus.some((ou) => ou.toLowerCase() === computerOu.toLowerCase()))
    c.bad('directory.managedOus', `must include directory.computerOu (${computerOu})`);
  if (baseDn && computerOu && !computerOu.toLowerCase().endsWith(baseDn.toLowerCase()))
    c.bad('directory.computerOu', `${computerOu} is not inside ${baseDn}`);
  for (const ou of managedOus ?? [])
    if (baseDn && !ou.toLowerCase().endsWith(baseDn.toLowerCase())) c.bad('directory.managedOus', `${ou} is not inside ${baseDn}`);

  const loginGroups = c.list('directory.loginGroups', { def: [] });
  for (const group of loginGroups ?? []) {
    const problem = loginGroupProblem(group);
    if (problem) c.bad('directory.loginGroups', problem);
  }
  if (loginGroups && loginGroups.join(',').length > LOGIN_GROUP_LIMIT) c.bad('directory.loginGroups', `joined with commas they exceed the join document's ${LOGIN_GROUP_LIMIT} characters`);
  // AWS Managed Microsoft AD always has the user "Admin": a safe probe by default.
  const probeUsers = c.list('directory.probeUsers', { ...(kind === 'aws-managed' ? { def: ['Admin'] } : {}), min: 1 });

  let idMapping: IdMapping | undefined;
  c.known('directory.idMapping', ['mode', 'domainSid']);
  const mode = c.get('directory.idMapping.mode') ?? 'sid';
  if (mode === 'sid') {
    const domainSid = c.str('directory.idMapping.domainSid', { re: /^S-1-5-21-\d+-\d+-\d+$/, hint: 'S-1-5-21-x-y-z; with the default sid mapping it pins the UID range' });
    if (domainSid) idMapping = { mode: 'sid', domainSid };
  } else if (mode === 'rfc2307') {
    if (c.get('directory.idMapping.domainSid') !== undefined) c.bad('directory.idMapping.domainSid', 'must not be set with rfc2307 (SSSD refuses it)');
    idMapping = { mode: 'rfc2307' };
  } else c.bad('directory.idMapping.mode', 'must be sid or rfc2307');

  // ---- tags, naming ----
  const optIn = c.tag('tags.optIn', Defaults.optIn);
  const optOut = c.tag('tags.optOut', Defaults.optOut);
  const loginGroupKey = c.str('tags.loginGroupKey', { def: Defaults.loginGroupKey, re: /^[^=]{1,128}$/ });
  const statusPrefix = c.str('tags.statusPrefix', { def: Defaults.statusPrefix, re: /^(?!aws:)[A-Za-z0-9:_.\-/]{1,32}$/i, hint: 'up to 32 of A-Z a-z 0-9 : _ . - /, not aws:' });
  const restrictCommandsToOptedIn = c.bool('tags.restrictCommandsToOptedIn', true);
  const namingPrefix = c.get('naming.prefix') === '' ? '' : c.str('naming.prefix', { def: '', re: /^[A-Za-z0-9]{1,4}$/, hint: '0 to 4 letters or digits' });

  // ---- timings, reconcile ----
  const settleSeconds = c.int('timings.settleSeconds', Defaults.settleSeconds, 0, 3600);
  const ssmOnlineDeadlineSeconds = c.int('timings.ssmOnlineDeadlineSeconds', Defaults.ssmOnlineDeadlineSeconds, 30, 86400);
  const commandDeadlineSeconds = c.int('timings.commandDeadlineSeconds', Defaults.commandDeadlineSeconds, 30, 7200);
  const windows = resolveWindowsConfig(c.get('windows'), (key, why) => c.bad(key, why));
  const longestCommand = Math.max(commandDeadlineSeconds ?? 0, windows.enabled ? windows.commandDeadlineSeconds : 0);
  const longestSsmWait = Math.max(ssmOnlineDeadlineSeconds ?? 0, windows.enabled ? windows.ssmOnlineDeadlineSeconds : 0);
  const executionSeconds = longestSsmWait + 2 * longestCommand + 1800;
  const claimLeaseSeconds = c.int('timings.claimLeaseSeconds', Math.min(executionSeconds, 86400), 60, 86400);
  const pacing = Object.fromEntries(PACED_APIS.map((api) => [api, c.rate(`pacing.${api}`, DEFAULT_PACING[api])])) as Record<PacedApi, number | undefined>;
  const reconcileEnabled = c.bool('reconcile.enabled', true);
  let schedule = c.str('reconcile.schedule', { def: Defaults.reconcileSchedule });
  const scheduleIssue = schedule === undefined ? undefined : scheduleProblem(schedule);
  if (scheduleIssue) schedule = c.bad('reconcile.schedule', scheduleIssue);
  const graceSeconds = c.int('reconcile.graceSeconds', Defaults.graceSeconds, 0, 30 * 86400);
  const maxDeletions = c.int('reconcile.maxDeletions', Defaults.maxDeletions, 0, 10000);
  const dryRun = c.bool('reconcile.dryRun', false);

  // ---- network, alarms, names, accounts ----
  const vpcId = c.str('network.vpcId', { re: /^vpc-[0-9a-f]{8,17}$/, hint: 'vpc-…' });
  const subnetIds = c.list('network.subnetIds', { min: 1, re: /^subnet-[0-9a-f]{8,17}$/, hint: 'subnet-…' });
  const securityGroupIds = c.list('network.securityGroupIds', { min: 1, re: /^sg-[0-9a-f]{8,17}$/, hint: 'sg-… that reach the DCs on 636 (and 53, 88)' });
  const availabilityZones = c.get('network.availabilityZones') === undefined ? undefined : c.list('network.availabilityZones', { min: 1 });
  const createEndpoints = c.bool('network.createEndpoints', false);
  const routeTableIds =
    c.get('network.routeTableIds') !== undefined
      ? c.list('network.routeTableIds', { min: 1, re: /^rtb-[0-9a-f]{8,17}$/, hint: 'rtb-…' })
      : createEndpoints === true
        ? c.bad('network.routeTableIds', 'is required with createEndpoints: the rtb-… route tables of network.subnetIds (the DynamoDB gateway endpoint adds its route there)')
        : undefined;
  const email = c.optStr('alarms.email', /^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'an e-mail address');
  const topicArn = c.optStr('alarms.topicArn', /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'an SNS topic ARN');
  const resourcePrefix = c.str('resourcePrefix', { def: Defaults.resourcePrefix, re: /^[a-z][a-z0-9-]{1,19}$/, hint: '2 to 20 of a-z 0-9 -, starting with a letter' });
  const memberAccounts = c.list('memberAccounts', { def: [], re: /^\d{12}$/, hint: '12-digit account IDs' });
  const memberRoleName = c.str('memberRoleName', { def: `${resourcePrefix ?? Defaults.resourcePrefix}-member`, re: /^[\w+=,.@-]{1,64}$/ });
  const logRetentionDays = c.int('logRetentionDays', Defaults.logRetentionDays, 1, 3653);
  if (logRetentionDays !== undefined && !RetentionDays.includes(logRetentionDays))
    c.bad('logRetentionDays', `must be one of ${RetentionDays.join(', ')}`);
  const account = c.optStr('env.account', /^\d{12}$/, '12 digits');
  const region = c.optStr('env.region', /^[a-z]{2}(-[a-z]+)+-\d$/, 'e.g. eu-west-1');

  if (memberAccounts && memberAccounts.length > 0) {
    if (!account) c.bad('env.account', 'is required when memberAccounts are given (the orchestrator account they forward to)');
    else if (memberAccounts.includes(account)) c.bad('memberAccounts', `must not include the orchestrator account ${account}`);
  }

  const linux = resolveLinuxConfig(c.get('linux'), (key, why) => c.bad(key, why));
  const lambda = resolveLambdaConfig(c.get('lambda'), (key, why) => c.bad(key, why));

  if (c.problems.length > 0) throw new ConfigurationError(c.problems);
  const must = <T>(v: T | undefined): T => v as T; // every undefined above was reported
  const directoryOf = (d: unknown): ResolvedConfig['directory'] => resolveConfig({ directory: d, network: raw.network }, options).directory;
  const resolved: Omit<ResolvedConfig, 'reach'> = {
    directory: {
      kind: must(kind),
      domain: must(domain),
      netbiosName: must(netbiosName),
      baseDn: must(baseDn),
      domainControllers: must(domainControllers),
      ...(directoryId ? { directoryId } : {}),
      ldapUrls: must(ldapUrls),
      ...(tlsServerName ? { tlsServerName } : {}),
      ...(caPem ? { caPem } : {}),
      insecure: must(insecure),
      serviceAccountSecret: must(serviceAccountSecret),
      ...(serviceAccountSecretKmsKeyArn ? { serviceAccountSecretKmsKeyArn } : {}),
      computerOu: must(computerOu),
      managedOus: must(managedOus),
      loginGroups: must(loginGroups),
      probeUsers: must(probeUsers),
      idMapping: must(idMapping),
    },
    tags: { optIn: must(optIn), optOut: must(optOut), loginGroupKey: must(loginGroupKey), statusPrefix: must(statusPrefix), restrictCommandsToOptedIn: must(restrictCommandsToOptedIn) },
    naming: { prefix: must(namingPrefix) },
    timings: {
      settleSeconds: must(settleSeconds),
      ssmOnlineDeadlineSeconds: must(ssmOnlineDeadlineSeconds),
      commandDeadlineSeconds: must(commandDeadlineSeconds),
      claimLeaseSeconds: must(claimLeaseSeconds),
    },
    pacing: { sendCommand: must(pacing.sendCommand), getCommandInvocation: must(pacing.getCommandInvocation), describeInstanceInformation: must(pacing.describeInstanceInformation) },
    reconcile: { enabled: must(reconcileEnabled), schedule: must(schedule), graceSeconds: must(graceSeconds), maxDeletions: must(maxDeletions), dryRun: must(dryRun) },
    network: { vpcId: must(vpcId), subnetIds: must(subnetIds), securityGroupIds: must(securityGroupIds), ...(availabilityZones ? { availabilityZones } : {}), createEndpoints: must(createEndpoints), ...(routeTableIds ? { routeTableIds } : {}) },
    alarms: { ...(email ? { email } : {}), ...(topicArn ? { topicArn } : {}) },
    linux,
    windows,
    resourcePrefix: must(resourcePrefix),
    memberAccounts: must(memberAccounts),
    memberRoleName: must(memberRoleName),
    logRetentionDays: must(logRetentionDays),
    env: { ...(account ? { account } : {}), ...(region ? { region } : {}) },
    lambda,
  };
  return { ...resolved, reach: resolveReach(input, resolved, directoryOf) };
}

/** The runtime Settings every task Lambda gets (ADJOIN_SETTINGS), validated with validateSettings. */
export function toSettings(config: ResolvedConfig): Settings {
  const names = resourceNames(config.resourcePrefix);
  const settings: Settings = {
    directory: directorySettingsOf(config.directory, config.directory.caPem ? names.caParameter : undefined),
    tags: {
      optIn: config.tags.optIn,
      optOut: config.tags.optOut,
      loginGroupKey: config.tags.loginGroupKey,
      statusPrefix: config.tags.statusPrefix,
      ...(config.reach.tagChange.leaveOnOptOut ? { leaveOnOptOut: true } : {}),
    },
    naming: { prefix: config.naming.prefix },
    documents: { join: names.joinDocument, verify: names.verifyDocument, ...(config.windows.enabled ? { joinWindows: names.windowsJoinDocument } : {}) },
    claimsTableName: `${config.resourcePrefix}-join-claims`,
    timings: { ...config.timings },
    pacing: { ...config.pacing },
    reconcile: { graceSeconds: config.reconcile.graceSeconds, maxDeletions: config.reconcile.maxDeletions, dryRun: config.reconcile.dryRun },
    ...(config.memberAccounts.length > 0 || config.reach.members.targets.length > 0 || config.reach.members.deployment === 'stackset' ? { memberRoleName: config.memberRoleName } : {}),
    otpKeyId: names.otpKeyAlias,
    linux: config.linux,
    ...(config.windows.enabled ? { windows: windowsSettingsOf(config.windows) } : {}),
    ...reachSettings(config.reach, (name) => caParameterOf(config, name), directorySettingsOf),
  };
  return validateSettings(settings);
}

/** The CA bundle parameter of a directory (the first keeps the one-directory name). Undefined: no CA (insecure). */
export function caParameterOf(config: ResolvedConfig, name: string): string | undefined {
  const entry = config.reach.directories.find((d) => d.name === name);
  if (!entry?.directory.caPem) return undefined;
  const base = resourceNames(config.resourcePrefix).caParameter;
  return entry === config.reach.directories[0] ? base : `${base}-${name}`;
}

/** One resolved directory → its runtime settings. */
function directorySettingsOf(d: ResolvedConfig['directory'], caParameterName: string | undefined): Settings['directory'] {
  return {
    kind: d.kind,
    domain: d.domain,
    netbiosName: d.netbiosName,
    baseDn: d.baseDn,
    computerOu: d.computerOu,
    managedOus: d.managedOus,
    ldapUrls: d.ldapUrls,
    ...(d.tlsServerName ? { tlsServerName: d.tlsServerName } : {}),
    ...(caParameterName ? { caParameterName } : {}),
    insecure: d.insecure,
    bindSecretId: d.serviceAccountSecret,
    dcIps: d.domainControllers.map((dc) => dc.ip),
    ...(d.directoryId ? { directoryId: d.directoryId } : {}),
    idMapping: d.idMapping,
    loginGroups: d.loginGroups,
    probeUsers: d.probeUsers,
  };
}

/** Reads the configuration from CDK context: `adjoin:config` (object) or `adjoin:configFile` (JSON file). */
export function configFromContext(tryGetContext: (key: string) => unknown): ResolvedConfig {
  const inline = tryGetContext('adjoin:config');
  if (inline !== undefined) {
    const parsed = typeof inline === 'string' ? parseJson(inline, 'adjoin:config') : inline;
    return resolveConfig(parsed);
  }
  const file = tryGetContext('adjoin:configFile');
  if (typeof file !== 'string' || file === '') {
    throw new ConfigurationError(['adjoin:config / adjoin:configFile: set one in cdk.json context (or with -c)']);
  }
  return loadConfigFile(file);
}

/** Reads and resolves a JSON config file; relative names inside it are relative to the file. */
export function loadConfigFile(file: string): ResolvedConfig {
  const full = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch {
    throw new ConfigurationError([`adjoin:configFile: cannot read ${full}`]);
  }
  return resolveConfig(parseJson(text, full), { baseDir: path.dirname(full) });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError([`${what}: not valid JSON (${err instanceof Error ? err.message : String(err)})`]);
  }
}
