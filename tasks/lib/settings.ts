/**
 * Runtime settings of every task Lambda: one JSON document in the environment variable
 * ADJOIN_SETTINGS, written by infra/ from the validated configuration (infra/config.ts), and by
 * the lab for its own world. Parsed once at cold start; a bad value throws ConfigurationError
 * naming every bad key.
 */
import { ConfigurationError } from './errors';
import { linuxSettingsProblems, type LinuxSettings } from './linux-settings';
import { DIRECTORY_NAME } from './naming';
import type { PacingSettings } from './ports';
import { isObj } from './validate';
import { windowsSettingsProblems, type WindowsSettings } from './windows-settings';

export type DirectoryKind = 'aws-managed' | 'entra-ds' | 'self-managed';

export type IdMapping = { mode: 'sid'; domainSid: string } | { mode: 'rfc2307' };

/** One directory's settings (the single `directory`, or one entry of `directories`). */
export type DirectorySettings = Settings['directory'];

export interface Settings {
  directory: {
    kind: DirectoryKind;
    /** DNS domain, e.g. corp.example.com. The realm is its upper case. */
    domain: string;
    /** NetBIOS domain name, e.g. CORP. */
    netbiosName: string;
    baseDn: string;
    /** Where new computer objects are created. Must be one of managedOus. */
    computerOu: string;
    /** The only OUs whose objects leave and reconcile may ever delete. */
    managedOus: string[];
    /** ldaps://host:636 (tried in order). ldap:// only with insecure=true. */
    ldapUrls: string[];
    /** Host name the DC certificate is issued to, when the URL holds an IP. */
    tlsServerName?: string;
    /**
     * The DCs by host name and IP. A URL whose host is one of these IPs is verified against
     * that DC's host name (each DC has its own certificate), and the DC that wrote an object
     * is reported by host name. Optional: without it, tlsServerName (or the URL's host) is used.
     */
    domainControllers?: { hostName: string; ip: string }[];
    /** PEM of the CA that issued the DC certificates (inline), or where to read it. */
    caPem?: string;
    caFile?: string;
    caParameterName?: string;
    /** Plain LDAP / unverified TLS. Only for labs; never the default. */
    insecure: boolean;
    /** Secrets Manager secret id holding {"username": "...", "password": "..."} (bind credentials). */
    bindSecretId?: string;
    /** Lab only: the bind DN and a file holding its password (never inline). */
    bindDn?: string;
    bindPasswordFile?: string;
    /** IPs of the domain controllers, written into the instance's resolver by the join document. */
    dcIps: string[];
    /**
     * AWS Managed Microsoft AD: with dcIps empty, the tasks that talk to the directory read its DC
     * IPs from Directory Service at cold start (tasks/lib/directory-lookup.ts); ldapUrls empty: ldaps://<ip>:636.
     */
    directoryId?: string;
    idMapping: IdMapping;
    /** Groups allowed to log in (simple access provider), when the instance has no group tag. */
    loginGroups: string[];
    /** Users whose resolution proves the join (getent passwd / id). */
    probeUsers: string[];
  };
  tags: {
    /** key=value that opts an instance in (e.g. Domain:Join=true). */
    optIn: { key: string; value: string };
    /** key=value that opts an instance out even when opted in (e.g. autoadjoin=false). */
    optOut: { key: string; value: string };
    /** Tag whose value is the instance's login group(s), comma separated (e.g. adGroupName). */
    loginGroupKey: string;
    /** Prefix of the tags we write: <prefix>status, <prefix>computer-name, <prefix>execution. */
    statusPrefix: string;
    /** Opt-out tag set on a joined instance: leave the directory (true) or only record it (absent/false). */
    leaveOnOptOut?: boolean;
  };
  naming: {
    /** Up to 4 characters put before the name derived from the instance ID. */
    prefix: string;
  };
  /** SSM document names; joinWindows only when Windows is enabled. */
  documents: { join: string; verify: string; joinWindows?: string };
  timings: {
    settleSeconds: number;
    ssmOnlineDeadlineSeconds: number;
    commandDeadlineSeconds: number;
    /** A join claimed by another execution less than this long ago is left to it. */
    claimLeaseSeconds: number;
  };
  reconcile: {
    graceSeconds: number;
    maxDeletions: number;
    dryRun: boolean;
  };
  /** The DynamoDB table of join claims (one item per instance: tasks/lib/claims.ts). A deployed
   *  Lambda reads the table's generated name from ADJOIN_CLAIMS_TABLE instead. */
  claimsTableName: string;
  /** Role assumed in member accounts (cross-account fleets). */
  memberRoleName?: string;
  /** KMS key (alias/…, key ID or ARN) that encrypts one-time passwords; absent: aws/ssm. */
  otpKeyId?: string;
  /**
   * SSM calls per second per account and Region that the joins pace themselves to
   * (tasks/lib/pace.ts): sendCommand, getCommandInvocation, describeInstanceInformation.
   * Absent (or 0 for one API): not paced.
   */
  pacing?: PacingSettings;
  /** Linux host settings of the join (sudo, host name, SSSD options, …); absent: the defaults. */
  linux?: LinuxSettings;
  /** Windows joins (tasks/lib/windows.ts); absent: Windows instances are skipped. */
  windows?: WindowsSettings;
  /**
   * Auto Scaling lifecycle hooks: what a failed join answers (absent: ABANDON), and the hook's
   * heartbeat timeout (absent: 1800 s) — a join that runs past a third of it sends heartbeats.
   */
  lifecycle?: { onJoinFailure: 'ABANDON' | 'CONTINUE'; heartbeatSeconds?: number };
  /**
   * Many directories (tasks/lib/routing.ts). Absent: the one `directory`, named "default".
   * When present, `directory` is the default directory (the first), for code that reads it.
   */
  directories?: Record<string, DirectorySettings>;
  routing?: {
    rules: RoutingRule[];
    /** Instance tag that may name an OU (inside its directory's managedOus). */
    ouTagKey: string;
  };
}

/** First match wins; no match: the first directory. */
export interface RoutingRule {
  match: { account?: string; region?: string; tag?: { key: string; value: string } };
  directory: string;
  /** Where this rule's computers go (one of that directory's managedOus, or inside one). */
  computerOu?: string;
}

/** The default tag conventions (infra/config.ts `Defaults` spells the same as key=value). A fresh object each call. */
export function defaultTagSettings(): Settings['tags'] {
  return {
    optIn: { key: 'Domain:Join', value: 'true' },
    optOut: { key: 'autoadjoin', value: 'false' },
    loginGroupKey: 'adGroupName',
    statusPrefix: 'adjoin:',
  };
}

/** The SSM document names a deployment with this resource prefix creates. */
export function documentNames(prefix: string): Settings['documents'] {
  return { join: `${prefix}-join`, verify: `${prefix}-verify` };
}

/** Reads ADJOIN_SETTINGS (or the given text) and validates it. */
export function loadSettings(text: string | undefined = process.env.ADJOIN_SETTINGS): Settings {
  if (text === undefined || text.trim() === '') {
    throw new ConfigurationError(['ADJOIN_SETTINGS: not set']);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigurationError(['ADJOIN_SETTINGS: not valid JSON']);
  }
  return validateSettings(raw);
}

/** Validates a parsed settings object; throws ConfigurationError listing every bad key. */
export function validateSettings(raw: unknown): Settings {
  const problems: string[] = [];
  const at = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), raw);
  const str = (path: string, re?: RegExp): void => {
    const v = at(path);
    if (typeof v !== 'string' || v === '') problems.push(`${path}: must be a non-empty string`);
    else if (re && !re.test(v)) problems.push(`${path}: ${JSON.stringify(v)} is not valid`);
  };
  const strList = (path: string, min: number): void => {
    const v = at(path);
    if (!Array.isArray(v) || v.length < min || v.some((x) => typeof x !== 'string' || x === ''))
      problems.push(`${path}: must be a list of at least ${min} non-empty string(s)`);
  };
  const num = (path: string, min: number, max: number): void => {
    const v = at(path);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      problems.push(`${path}: must be a whole number from ${min} to ${max}`);
  };
  const bool = (path: string): void => {
    if (typeof at(path) !== 'boolean') problems.push(`${path}: must be true or false`);
  };
  if (!isObj(raw)) throw new ConfigurationError(['settings: must be a JSON object']);

  const checks: Checks = { at, str, strList, bool, problems };
  validateDirectory('directory', checks);
  if (at('tags.leaveOnOptOut') !== undefined) bool('tags.leaveOnOptOut');
  validateReach(checks);
  str('tags.optIn.key');
  str('tags.optIn.value');
  str('tags.optOut.key');
  str('tags.optOut.value');
  str('tags.loginGroupKey');
  str('tags.statusPrefix', /^[A-Za-z0-9:_.\-/]{1,32}$/);
  const prefix = at('naming.prefix');
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9]{0,4}$/.test(prefix))
    problems.push('naming.prefix: must be 0 to 4 letters or digits');
  str('claimsTableName', /^[A-Za-z0-9_.-]{3,255}$/);
  str('documents.join');
  str('documents.verify');
  num('timings.settleSeconds', 0, 3600);
  num('timings.ssmOnlineDeadlineSeconds', 30, 86400);
  num('timings.commandDeadlineSeconds', 30, 7200);
  num('timings.claimLeaseSeconds', 60, 86400);
  num('reconcile.graceSeconds', 0, 30 * 86400);
  num('reconcile.maxDeletions', 0, 10000);
  bool('reconcile.dryRun');
  const otpKeyId = at('otpKeyId');
  if (otpKeyId !== undefined && (typeof otpKeyId !== 'string' || !/^(alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+)$/.test(otpKeyId)))
    problems.push('otpKeyId: must be a KMS alias (alias/…), key ID or key/alias ARN');

  const pacing = at('pacing');
  if (pacing !== undefined) {
    if (!isObj(pacing)) problems.push('pacing: must be an object of calls per second (sendCommand, getCommandInvocation, describeInstanceInformation)');
    else
      for (const [k, v] of Object.entries(pacing)) {
        if (k !== 'sendCommand' && k !== 'getCommandInvocation' && k !== 'describeInstanceInformation')
          problems.push(`pacing.${k}: unknown (sendCommand, getCommandInvocation, describeInstanceInformation)`);
        else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1000) problems.push(`pacing.${k}: must be calls per second from 0 (not paced) to 1000`);
      }
  }
  problems.push(...linuxSettingsProblems(at('linux')));
  problems.push(...windowsSettingsProblems(at('windows')));
  if (at('windows') !== undefined) str('documents.joinWindows');
  if (problems.length > 0) throw new ConfigurationError(problems);
  return raw as unknown as Settings;
}

interface Checks {
  at: (path: string) => unknown;
  str: (path: string, re?: RegExp) => void;
  strList: (path: string, min: number) => void;
  bool: (path: string) => void;
  problems: string[];
}


/** One directory's checks, under `d` ("directory" or "directories.<name>"). */
function validateDirectory(d: string, { at, str, strList, bool, problems }: Checks): void {
  const kind = at(`${d}.kind`);
  if (kind !== 'aws-managed' && kind !== 'entra-ds' && kind !== 'self-managed')
    problems.push(`${d}.kind: must be aws-managed, entra-ds or self-managed`);
  str(`${d}.domain`, /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i);
  str(`${d}.netbiosName`, /^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/);
  str(`${d}.baseDn`, /^(DC=[^,=]+)(,DC=[^,=]+)*$/i);
  str(`${d}.computerOu`);
  strList(`${d}.managedOus`, 1);
  // With directoryId, the DCs may be left to the cold-start look-up (tasks/lib/directory-lookup.ts).
  const directoryId = at(`${d}.directoryId`);
  if (directoryId !== undefined) str(`${d}.directoryId`, /^d-[0-9a-f]{10}$/);
  const fromLookup = directoryId !== undefined ? 0 : 1;
  strList(`${d}.ldapUrls`, fromLookup);
  bool(`${d}.insecure`);
  strList(`${d}.dcIps`, fromLookup);
  const noUrls = Array.isArray(at(`${d}.ldapUrls`)) && (at(`${d}.ldapUrls`) as unknown[]).length === 0;
  if (directoryId !== undefined && noUrls && at(`${d}.tlsServerName`) === undefined && at(`${d}.insecure`) !== true)
    problems.push(`${d}.tlsServerName: is needed when the LDAPS URLs are the looked-up DC IPs (a certificate names a host, not an IP)`);
  strList(`${d}.loginGroups`, 0);
  strList(`${d}.probeUsers`, 1);
  const urls = at(`${d}.ldapUrls`);
  if (Array.isArray(urls) && at(`${d}.insecure`) !== true) {
    for (const u of urls)
      if (typeof u === 'string' && !u.startsWith('ldaps://'))
        problems.push(`${d}.ldapUrls: ${JSON.stringify(u)} is not ldaps:// (plain LDAP needs ${d}.insecure=true)`);
  }
  const managed = at(`${d}.managedOus`);
  const computerOu = at(`${d}.computerOu`);
  const baseDn = at(`${d}.baseDn`);
  if (Array.isArray(managed) && typeof baseDn === 'string') {
    for (const ou of managed)
      if (typeof ou === 'string' && !ou.toLowerCase().endsWith(baseDn.toLowerCase()))
        problems.push(`${d}.managedOus: ${JSON.stringify(ou)} is not inside ${baseDn}`);
  }
  if (Array.isArray(managed) && typeof computerOu === 'string' && !managed.some((ou) => typeof ou === 'string' && ou.toLowerCase() === computerOu.toLowerCase()))
    problems.push(`${d}.computerOu: must be one of ${d}.managedOus`);
  if (at(`${d}.caPem`) === undefined && at(`${d}.caFile`) === undefined && at(`${d}.caParameterName`) === undefined && at(`${d}.insecure`) !== true)
    problems.push(`${d}: one of caPem, caFile or caParameterName is needed to verify LDAPS (or insecure=true)`);
  if (at(`${d}.bindSecretId`) === undefined && (at(`${d}.bindDn`) === undefined || at(`${d}.bindPasswordFile`) === undefined))
    problems.push(`${d}: bindSecretId (or, in the lab, bindDn and bindPasswordFile) is needed`);
  const mode = at(`${d}.idMapping.mode`);
  if (mode === 'sid') str(`${d}.idMapping.domainSid`, /^S-1-5-21-\d+-\d+-\d+$/);
  else if (mode !== 'rfc2307') problems.push(`${d}.idMapping.mode: must be sid or rfc2307`);
}


/** Optional keys of issue 13: lifecycle, directories, routing. */
function validateReach(checks: Checks): void {
  const { at, str, problems } = checks;
  const onFailure = at('lifecycle.onJoinFailure');
  if (at('lifecycle') !== undefined && onFailure !== 'ABANDON' && onFailure !== 'CONTINUE')
    problems.push('lifecycle.onJoinFailure: must be ABANDON or CONTINUE');
  const hb = at('lifecycle.heartbeatSeconds');
  if (hb !== undefined && (typeof hb !== 'number' || !Number.isInteger(hb) || hb < 30 || hb > 7200))
    problems.push('lifecycle.heartbeatSeconds: must be a whole number from 30 to 7200');
  const directories = at('directories');
  let names: string[] = [];
  if (directories !== undefined) {
    if (!isObj(directories) || Object.keys(directories).length === 0) problems.push('directories: must be an object of at least one directory');
    else {
      names = Object.keys(directories);
      for (const name of names) {
        if (!DIRECTORY_NAME.test(name)) problems.push(`directories: ${JSON.stringify(name)} is not a valid name (a-z, 0-9, -; up to 32)`);
        else validateDirectory(`directories.${name}`, checks);
      }
    }
  }
  const routing = at('routing');
  if (routing === undefined) return;
  str('routing.ouTagKey');
  const rules = at('routing.rules');
  if (!Array.isArray(rules)) return void problems.push('routing.rules: must be a list');
  rules.forEach((rule: unknown, i) => {
    const key = `routing.rules[${i}]`;
    if (!isObj(rule) || !isObj(rule.match)) return void problems.push(`${key}: must be {match, directory, computerOu?}`);
    const known = names.length > 0 ? names : ['default'];
    if (typeof rule.directory !== 'string' || !known.includes(rule.directory)) problems.push(`${key}.directory: must be one of ${known.join(', ')}`);
    if (rule.computerOu !== undefined && typeof rule.computerOu !== 'string') problems.push(`${key}.computerOu: must be a string`);
  });
}
