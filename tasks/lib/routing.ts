/**
 * Many directories: which directory (and OU) an instance joins, and where leave looks.
 *
 *   routing.rules   first match wins ({account?, region?, tag?: {key, value}} — all given must match);
 *                   no rule matches: the first directory
 *   OU tag          (routing.ouTagKey, default adjoin:ou) may name an OU, but only one of the
 *                   chosen directory's managedOus or an OU inside one; anything else is refused
 *                   with InvalidInput BEFORE any side effect
 *   recorded        the join writes the directory's name in the EC2 tag <statusPrefix>directory
 *                   (the marker format adjoin:v1:<account>:<region>:<instance-id> is unchanged);
 *                   leave looks there first and, when the tag is missing or names no configured
 *                   directory, in every directory (a marker is unique, so this is safe).
 *
 * Pure: settings in, names and DNs out. The single `directory` form is the directory "default".
 */
import type { Deps } from './deps';
import { isInside, parseDn, sameDn } from './dn';
import { ConfigurationError, InvalidInput } from './errors';
import { DIRECTORY_NAME } from './naming';
import type { DirectorySettings, RoutingRule, Settings } from './settings';

/** The name the one-directory form (`settings.directory` only) goes by. */
export const DEFAULT_DIRECTORY = 'default';
/** Default instance tag that may name an OU. */
export const DEFAULT_OU_TAG = 'adjoin:ou';

type RoutingSettings = Pick<Settings, 'directory' | 'directories' | 'routing' | 'tags'>;

/** Every configured directory name, the default (first) one first. */
export function directoryNames(settings: RoutingSettings): string[] {
  return settings.directories ? Object.keys(settings.directories) : [DEFAULT_DIRECTORY];
}

/** The settings of one directory by name. Unknown: ConfigurationError (the configuration and the data disagree). */
export function directorySettings(settings: RoutingSettings, name: string): DirectorySettings {
  const d = settings.directories ? settings.directories[name] : name === DEFAULT_DIRECTORY ? settings.directory : undefined;
  if (!d) throw new ConfigurationError([`directories: no directory named ${JSON.stringify(name)} (configured: ${directoryNames(settings).join(', ')})`]);
  return d;
}

/** Is `ou` one of the managed OUs, or an OU inside one? */
export function isManagedOu(ou: string, managedOus: readonly string[]): boolean {
  const rdns = parseDn(ou);
  if (!rdns || rdns[0]?.[0]?.type.toLowerCase() !== 'ou') return false;
  return managedOus.some((m) => sameDn(ou, m) || isInside(ou, m));
}

export interface Route {
  directory: string;
  computerOu: string;
  /** Why: which rule matched, or the default; and whether the OU came from the tag. */
  reason: string;
}

export interface RouteTarget {
  account: string;
  region: string;
  tags: Record<string, string>;
}

const matches = (rule: RoutingRule, t: RouteTarget): boolean =>
  (rule.match.account === undefined || rule.match.account === t.account) &&
  (rule.match.region === undefined || rule.match.region === t.region) &&
  (rule.match.tag === undefined || t.tags[rule.match.tag.key] === rule.match.tag.value);

/**
 * The directory and OU an instance joins. Throws InvalidInput when its OU tag names an OU that is
 * not managed in that directory (or is not an OU DN), ConfigurationError when a rule names an
 * unknown directory or an OU outside its managed OUs.
 */
export function route(settings: RoutingSettings, target: RouteTarget): Route {
  const rules = settings.routing?.rules ?? [];
  const index = rules.findIndex((r) => matches(r, target));
  const rule = index >= 0 ? rules[index] : undefined;
  const directory = rule?.directory ?? directoryNames(settings)[0] ?? DEFAULT_DIRECTORY;
  const d = directorySettings(settings, directory);
  if (rule?.computerOu !== undefined && !isManagedOu(rule.computerOu, d.managedOus))
    throw new ConfigurationError([`routing.rules[${index}].computerOu: ${rule.computerOu} is not inside the managed OUs of directory ${directory}`]);
  const why = rule ? `routing rule ${index + 1} chose directory ${directory}` : `no routing rule matched: the first directory, ${directory}`;

  const ouKey = settings.routing?.ouTagKey ?? DEFAULT_OU_TAG;
  const tagged = target.tags[ouKey];
  if (tagged !== undefined) {
    const ou = tagged.trim();
    if (!isManagedOu(ou, d.managedOus)) {
      throw new InvalidInput(
        `Tag ${ouKey}=${JSON.stringify(tagged.slice(0, 200))} is refused: an instance may name only an OU inside the managed OUs of directory ${directory} (${d.managedOus.join('; ')}). Nothing was done; fix or remove the tag, then join again.`,
      );
    }
    return { directory, computerOu: ou, reason: `${why}; OU from tag ${ouKey}` };
  }
  return { directory, computerOu: rule?.computerOu ?? d.computerOu, reason: why };
}

/** The EC2 tag (under our status prefix) that records the directory an instance joined. */
export const directoryTagKey = (statusPrefix: string): string => `${statusPrefix}directory`;

/** Where leave looks for an instance's objects: the recorded directory, else every directory. */
export function directoriesToSearch(settings: RoutingSettings, tags: Record<string, string>): string[] {
  const names = directoryNames(settings);
  const recorded = tags[directoryTagKey(settings.tags.statusPrefix)];
  return recorded !== undefined && DIRECTORY_NAME.test(recorded) && names.includes(recorded) ? [recorded] : names;
}

/**
 * Deps.directoryFor: one Directory per configured directory, built on first use and reused.
 * `first` (optional) is the Directory already built for the default directory (Deps.directory).
 */
export function lazyDirectories<D>(settings: RoutingSettings, make: (d: DirectorySettings, name: string) => D, first?: D): (name: string) => D {
  const built = new Map<string, D>();
  const names = directoryNames(settings);
  if (first !== undefined && names[0] !== undefined) built.set(names[0], first);
  return (name) => {
    let d = built.get(name);
    if (d === undefined) {
      d = make(directorySettings(settings, name), name);
      built.set(name, d);
    }
    return d;
  };
}

/**
 * Deps for one directory: `directory` and `settings.directory` are that directory's, so code
 * written for one directory (delete, safety rules) acts in it. No name: the deps unchanged.
 */
export function scopedDeps(deps: Deps, name: string | undefined): Deps {
  if (name === undefined) return deps;
  return { ...deps, settings: { ...deps.settings, directory: directorySettings(deps.settings, name) }, directory: deps.directoryFor(name) };
}

/** Where "Read instance" routed the instance ($.instance.directory / computerOu). */
export interface Routed {
  directory?: string;
  computerOu?: string;
}

/**
 * Deps for a join step: the routed directory's (scopedDeps), with the routed computer OU —
 * checked again to lie inside that directory's managed OUs (InvalidInput otherwise).
 */
export function routedDeps(deps: Deps, instance: Routed): Deps {
  const scoped = scopedDeps(deps, instance.directory);
  const ou = instance.computerOu;
  if (ou === undefined) return scoped;
  const d = scoped.settings.directory;
  if (!isManagedOu(ou, d.managedOus)) throw new InvalidInput(`instance.computerOu: ${JSON.stringify(ou.slice(0, 200))} is not inside the managed OUs of directory ${instance.directory ?? DEFAULT_DIRECTORY}`);
  return { ...scoped, settings: { ...scoped.settings, directory: { ...d, computerOu: ou } } };
}

/** A join step's domain function, run in the directory and OU the instance was routed to. */
export const routed =
  <I extends { instance: Routed }, O, R extends unknown[]>(run: (input: I, deps: Deps, ...rest: R) => O) =>
  (input: I, deps: Deps, ...rest: R): O =>
    run(input, routedDeps(deps, input.instance), ...rest);

/** The directory name to record on an object found in `name`: only when several directories are configured. */
export const objectDirectory = (settings: RoutingSettings, name: string): { directory?: string } =>
  settings.directories ? { directory: name } : {};
