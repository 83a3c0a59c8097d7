/**
 * Configuration of the fleet's reach (issue 13), kept apart from infra/config.ts:
 *
 *   tags.joinOnTagChange / tags.leaveOnOptOut   the tag-change entry point
 *   lifecycle   { enabled, onJoinFailure: ABANDON|CONTINUE, heartbeatSeconds, autoScalingGroups }
 *   members     { accounts: [{account, regions?}], regions?, deployment: stacks|stackset,
 *                 organizationId?, organizationalUnitIds? }   (memberAccounts stays accepted)
 *               listed accounts always get a member stack per Region (`cdk bootstrap --trust`);
 *               with stackset, the accounts of the OUs get the member template by a
 *               service-managed StackSet in the same Regions
 *   directories { <name>: <directory> }  (the one `directory` stays accepted: directory "default")
 *   routing     { ouTagKey?, rules: [{match: {account?, region?, tag?: "key=value"}, directory, computerOu?}] }
 *
 * Each directory of `directories` is checked by the very rules of the one `directory`
 * (resolveConfig on it), its problems reported under `directories.<name>.`.
 */
import { ConfigurationError } from '../tasks/lib/errors';
import { DIRECTORY_NAME } from '../tasks/lib/naming';
import { DEFAULT_DIRECTORY, DEFAULT_OU_TAG, isManagedOu } from '../tasks/lib/routing';
import type { RoutingRule, Settings } from '../tasks/lib/settings';

/** What this file needs of a resolved directory (infra/config.ts ResolvedConfig['directory']). */
interface DirectoryLike {
  managedOus: string[];
}

export interface MemberTarget {
  account: string;
  regions: string[];
}

export interface ReachConfig<D extends DirectoryLike = DirectoryLike> {
  tagChange: { enabled: boolean; leaveOnOptOut: boolean };
  lifecycle: { enabled: boolean; onJoinFailure: 'ABANDON' | 'CONTINUE'; heartbeatSeconds: number; autoScalingGroups: string[] };
  members: {
    deployment: 'stacks' | 'stackset';
    /** stacks: one member stack per account × Region. */
    targets: MemberTarget[];
    /** stackset: service-managed, to these OUs and Regions. */
    organizationId?: string;
    organizationalUnitIds: string[];
    regions: string[];
  };
  /** Every directory by name, the default (first) first. The first is also ResolvedConfig.directory. */
  directories: { name: string; directory: D }[];
  /** True when the configuration used `directories` (settings then carry every directory). */
  manyDirectories: boolean;
  routing: { ouTagKey: string; rules: RoutingRule[] };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
export const ReachKeys = ['lifecycle', 'members', 'directories', 'routing'] as const;
export const ReachTagKeys = ['joinOnTagChange', 'leaveOnOptOut'] as const;

/**
 * Resolves the reach keys of `raw`. `resolveDirectory` resolves one directory input by the
 * one-directory rules (infra/config.ts). Throws ConfigurationError naming every bad key.
 */
export function resolveReach<D extends DirectoryLike>(
  raw: Record<string, unknown>,
  base: { directory: D; memberAccounts: string[]; env: { account?: string; region?: string } },
  resolveDirectory: (input: unknown) => D,
): ReachConfig<D> {
  const problems: string[] = [];
  const bad = (key: string, why: string): undefined => void problems.push(`${key}: ${why}`);
  const get = (key: string): unknown => key.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), raw);
  const known = (key: string, allowed: readonly string[]): void => {
    const v = get(key);
    if (v === undefined) return;
    if (!isObj(v)) return void bad(key, 'must be an object');
    for (const k of Object.keys(v)) if (!allowed.includes(k)) bad(`${key}.${k}`, 'unknown key');
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = get(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') bad(key, 'must be true or false');
    return v === true;
  };
  const list = (key: string, re: RegExp, hint: string): string[] => {
    const v = get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !re.test(x))) {
      bad(key, `must be a list of ${hint}`);
      return [];
    }
    return [...new Set(v as string[])];
  };

  // ---- tag change, lifecycle ----
  const tagChange = { enabled: bool('tags.joinOnTagChange', false), leaveOnOptOut: bool('tags.leaveOnOptOut', false) };
  known('lifecycle', ['enabled', 'onJoinFailure', 'heartbeatSeconds', 'autoScalingGroups']);
  const onJoinFailure = get('lifecycle.onJoinFailure') ?? 'ABANDON';
  if (onJoinFailure !== 'ABANDON' && onJoinFailure !== 'CONTINUE') bad('lifecycle.onJoinFailure', 'must be ABANDON or CONTINUE');
  const hb = get('lifecycle.heartbeatSeconds') ?? 1800;
  // Auto Scaling allows 30 to 7200 seconds per heartbeat.
  if (typeof hb !== 'number' || !Number.isInteger(hb) || hb < 30 || hb > 7200) bad('lifecycle.heartbeatSeconds', 'must be a whole number from 30 to 7200');
  const lifecycle = {
    enabled: bool('lifecycle.enabled', get('lifecycle') !== undefined),
    onJoinFailure: onJoinFailure === 'CONTINUE' ? ('CONTINUE' as const) : ('ABANDON' as const),
    heartbeatSeconds: typeof hb === 'number' ? hb : 1800,
    autoScalingGroups: list('lifecycle.autoScalingGroups', /^[^\s:]{1,255}$/, 'Auto Scaling group names'),
  };
  if (lifecycle.autoScalingGroups.length > 0 && !lifecycle.enabled) bad('lifecycle.autoScalingGroups', 'needs lifecycle.enabled=true');

  // ---- members ----
  known('members', ['deployment', 'accounts', 'regions', 'organizationId', 'organizationalUnitIds']);
  const deployment = get('members.deployment') ?? 'stacks';
  if (deployment !== 'stacks' && deployment !== 'stackset') bad('members.deployment', 'must be stacks or stackset');
  const defaultRegions = list('members.regions', REGION, 'Region names');
  const home = base.env.region;
  const regionsOr = (rs: string[]): string[] => (rs.length > 0 ? rs : defaultRegions.length > 0 ? defaultRegions : home ? [home] : []);
  const targets: MemberTarget[] = base.memberAccounts.map((account) => ({ account, regions: regionsOr([]) }));
  const accounts = get('members.accounts');
  if (accounts !== undefined) {
    if (!Array.isArray(accounts)) bad('members.accounts', 'must be a list of {account, regions?}');
    else
      accounts.forEach((a: unknown, i) => {
        const key = `members.accounts[${i}]`;
        if (!isObj(a) || typeof a.account !== 'string' || !ACCOUNT.test(a.account)) return void bad(`${key}.account`, 'must be a 12-digit account ID');
        for (const k of Object.keys(a)) if (k !== 'account' && k !== 'regions') bad(`${key}.${k}`, 'unknown key');
        const regions = a.regions === undefined ? [] : Array.isArray(a.regions) && a.regions.every((r) => typeof r === 'string' && REGION.test(r)) ? [...new Set(a.regions as string[])] : [];
        if (a.regions !== undefined && regions.length === 0) bad(`${key}.regions`, 'must be a non-empty list of Region names');
        if (targets.some((t) => t.account === a.account)) bad(key, `account ${a.account} is listed twice (memberAccounts or members.accounts)`);
        targets.push({ account: a.account, regions: regionsOr(regions) });
      });
  }
  // A memberAccounts entry may have no Region: its stack then goes to the Region of the deploy (as before).
  for (const t of targets) if (t.regions.length === 0 && !base.memberAccounts.includes(t.account)) bad('members', `account ${t.account}: no Region (set members.regions or env.region)`);
  if (accounts !== undefined && !base.env.account) bad('env.account', 'is required with members.accounts (the orchestrator account they forward to)');
  if (targets.some((t) => t.regions.some((r) => r !== home)) && !home) bad('env.region', 'is required with member Regions (events go to the orchestrator bus in its Region)');
  const organizationalUnitIds = list('members.organizationalUnitIds', /^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/, 'OU IDs (ou-xxxx-yyyyyyyy) or a root ID (r-xxxx)');
  const organizationId = get('members.organizationId');
  if (organizationId !== undefined && (typeof organizationId !== 'string' || !/^o-[a-z0-9]{10,32}$/.test(organizationId))) bad('members.organizationId', 'must be an organization ID (o-…)');
  if (deployment === 'stackset') {
    if (organizationalUnitIds.length === 0) bad('members.organizationalUnitIds', 'is required with deployment stackset');
    if (organizationId === undefined) bad('members.organizationId', 'is required with deployment stackset (the event bus admits the organization)');
    if (regionsOr([]).length === 0) bad('members.regions', 'is required with deployment stackset');
  } else if (organizationalUnitIds.length > 0) bad('members.organizationalUnitIds', 'needs members.deployment=stackset');

  // ---- directories, routing ----
  const many = get('directories');
  const directories: ReachConfig<D>['directories'] = [];
  if (many !== undefined) {
    if (raw.directory !== undefined) bad('directories', 'give either directory (one) or directories (many), not both');
    if (!isObj(many) || Object.keys(many).length === 0) bad('directories', 'must be an object of at least one named directory');
    else
      for (const [name, input] of Object.entries(many)) {
        if (!DIRECTORY_NAME.test(name)) {
          bad(`directories.${name}`, 'the name must be 1 to 32 of a-z 0-9 -, starting with a letter');
          continue;
        }
        try {
          directories.push({ name, directory: resolveDirectory(input) });
        } catch (err) {
          if (!(err instanceof ConfigurationError)) throw err;
          for (const p of err.problems) problems.push(p.replace(/^directory\b/, `directories.${name}`));
        }
      }
  } else directories.push({ name: DEFAULT_DIRECTORY, directory: base.directory });

  known('routing', ['ouTagKey', 'rules']);
  const ouTagKey = get('routing.ouTagKey') ?? DEFAULT_OU_TAG;
  if (typeof ouTagKey !== 'string' || !/^[^=]{1,128}$/.test(ouTagKey)) bad('routing.ouTagKey', 'must be a tag key');
  const rules: RoutingRule[] = [];
  const rulesRaw = get('routing.rules') ?? [];
  if (!Array.isArray(rulesRaw)) bad('routing.rules', 'must be a list');
  else
    rulesRaw.forEach((r: unknown, i) => {
      const key = `routing.rules[${i}]`;
      if (!isObj(r) || !isObj(r.match)) return void bad(key, 'must be {match: {account?, region?, tag?}, directory, computerOu?}');
      for (const k of Object.keys(r)) if (!['match', 'directory', 'computerOu'].includes(k)) bad(`${key}.${k}`, 'unknown key');
      for (const k of Object.keys(r.match)) if (!['account', 'region', 'tag'].includes(k)) bad(`${key}.match.${k}`, 'unknown key');
      const m = r.match;
      if (m.account !== undefined && (typeof m.account !== 'string' || !ACCOUNT.test(m.account))) bad(`${key}.match.account`, 'must be 12 digits');
      if (m.region !== undefined && (typeof m.region !== 'string' || !REGION.test(m.region))) bad(`${key}.match.region`, 'must be a Region name');
      const tag = typeof m.tag === 'string' && /^[^=]{1,128}=[^=]{0,256}$/.test(m.tag) ? m.tag : m.tag === undefined ? undefined : bad(`${key}.match.tag`, 'write it as key=value');
      const target = directories.find((d) => d.name === r.directory);
      if (!target) return void bad(`${key}.directory`, `must be one of ${directories.map((d) => d.name).join(', ')}`);
      if (r.computerOu !== undefined && (typeof r.computerOu !== 'string' || !isManagedOu(r.computerOu, target.directory.managedOus)))
        return void bad(`${key}.computerOu`, `must be an OU inside the managed OUs of directory ${target.name}`);
      rules.push({
        match: {
          ...(typeof m.account === 'string' ? { account: m.account } : {}),
          ...(typeof m.region === 'string' ? { region: m.region } : {}),
          ...(tag ? { tag: { key: tag.slice(0, tag.indexOf('=')), value: tag.slice(tag.indexOf('=') + 1) } } : {}),
        },
        directory: target.name,
        ...(typeof r.computerOu === 'string' ? { computerOu: r.computerOu } : {}),
      });
    });

  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    tagChange,
    lifecycle,
    members: {
      deployment: deployment === 'stackset' ? 'stackset' : 'stacks',
      targets,
      ...(typeof organizationId === 'string' ? { organizationId } : {}),
      organizationalUnitIds,
      regions: regionsOr([]),
    },
    directories,
    manyDirectories: many !== undefined,
    routing: { ouTagKey: ouTagKey as string, rules },
  };
}

/** Every account × Region a member stack goes to: the listed accounts (with stackset too: the OUs get the StackSet). */
export const memberStackTargets = (reach: ReachConfig): { account: string; region?: string; primary: boolean }[] =>
  reach.members.targets.flatMap((t): { account: string; region?: string; primary: boolean }[] =>
      t.regions.length === 0 ? [{ account: t.account, primary: true }] : t.regions.map((region, i) => ({ account: t.account, region, primary: i === 0 })));

/** True when anything runs outside the orchestrator's own Region: IAM statements then name every Region (`*`). */
export const spansRegions = (reach: ReachConfig, home: string | undefined): boolean =>
  reach.members.regions.some((r) => r !== home) || reach.members.targets.some((t) => t.regions.some((r) => r !== home));

/** The settings keys of the reach configuration (added to toSettings' result). */
export function reachSettings<D extends DirectoryLike>(reach: ReachConfig<D>, caParameterOf: (name: string) => string | undefined, directorySettings: (d: D, caParameterName: string | undefined) => Settings['directory']): Partial<Settings> {
  return {
    ...(reach.lifecycle.enabled ? { lifecycle: { onJoinFailure: reach.lifecycle.onJoinFailure, heartbeatSeconds: reach.lifecycle.heartbeatSeconds } } : {}),
    ...(reach.manyDirectories
      ? { directories: Object.fromEntries(reach.directories.map(({ name, directory }) => [name, directorySettings(directory, caParameterOf(name))])) }
      : {}),
    ...(reach.manyDirectories || reach.routing.rules.length > 0 ? { routing: { ouTagKey: reach.routing.ouTagKey, rules: reach.routing.rules } } : {}),
  };
}
