/**
 * Instance tags: opt-in / opt-out, the login-group tag (validated: its value reaches SSSD's
 * configuration and a shell), and the status tags we write.
 */
import { InvalidInput } from './errors';
import type { Settings } from './settings';

type TagSettings = Settings['tags'];

const norm = (v: string | undefined): string | undefined => v?.trim().toLowerCase();

/**
 * Opted in: the opt-in tag has EXACTLY its value (case-sensitive, untrimmed), as IAM's
 * StringEquals compares aws:ResourceTag in the member role's policy (restrictCommandsToOptedIn):
 * a looser match here would start joins that Run Command then refuses.
 */
export function isOptedIn(tags: Record<string, string>, t: TagSettings): boolean {
  return tags[t.optIn.key] === t.optIn.value;
}
/** Opted out: the opt-out tag has its value (trimmed, case-insensitive: erring towards not joining); wins over opt-in. */
export function isOptedOut(tags: Record<string, string>, t: TagSettings): boolean {
  return norm(tags[t.optOut.key]) === norm(t.optOut.value);
}

/** Why an instance is not to be joined, or undefined when it is. */
export function optInDecision(tags: Record<string, string>, t: TagSettings): string | undefined {
  if (isOptedOut(tags, t)) return `opted out (tag ${t.optOut.key}=${t.optOut.value})`;
  if (!isOptedIn(tags, t)) return `not opted in (tag ${t.optIn.key}=${t.optIn.value} is missing)`;
  return undefined;
}

/**
 * A login group name: 1-64 of letters, digits, space, dot, underscore, hyphen (the join
 * document's LoginGroups pattern, ^[A-Za-z0-9 _.,-]*$, with commas as separators); it starts
 * with a letter or digit and does not end with a space. Everything else (LDAP filter
 * characters `( ) * \ NUL`, shell characters `; & | $ \` < > " '`, newlines, `=`, `+`, `#`,
 * `@`) is refused.
 */
export const LOGIN_GROUP = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$/;
export const MAX_LOGIN_GROUPS = 16;

/** Parses a comma-separated login-group tag value; InvalidInput names the tag and the bad value. */
export function parseLoginGroups(value: string, tagKey: string): string[] {
  const groups = value
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  if (groups.length === 0) throw new InvalidInput(`Tag ${tagKey}: no login group in the value`);
  if (groups.length > MAX_LOGIN_GROUPS) throw new InvalidInput(`Tag ${tagKey}: more than ${MAX_LOGIN_GROUPS} login groups`);
  for (const g of groups)
    if (!LOGIN_GROUP.test(g))
      throw new InvalidInput(
        `Tag ${tagKey}: ${JSON.stringify(g.length > 70 ? `${g.slice(0, 70)}…` : g)} is not an acceptable group name ` +
          '(letters, digits, space, . _ -; up to 64 characters)',
      );
  return [...new Set(groups)];
}

/** Login groups for an instance: its tag (validated) or the configured default. */
export function loginGroupsFor(tags: Record<string, string>, settings: Settings): string[] {
  const v = tags[settings.tags.loginGroupKey];
  if (v === undefined || v.trim() === '') return [...settings.directory.loginGroups];
  return parseLoginGroups(v, settings.tags.loginGroupKey);
}

/** The status tags we write (keys under tags.statusPrefix). */
export function statusTagKeys(prefix: string): {
  status: string;
  execution: string;
  claimedAt: string;
  computerName: string;
  joinedAt: string;
  failedState: string;
} {
  return {
    status: `${prefix}status`,
    execution: `${prefix}execution`,
    claimedAt: `${prefix}claimed-at`,
    computerName: `${prefix}computer-name`,
    joinedAt: `${prefix}joined-at`,
    failedState: `${prefix}failed-state`,
  };
}

export type JoinStatus = 'joining' | 'joined' | 'failed';
