/**
 * What Linux admins ask of a join (issue 12): sudo for AD groups, the OS host name, SSSD's
 * dynamic DNS, extra SSSD domain options from an allow-list, Kerberos rdns. Configured as
 * `linux.*` (infra/config-admin.ts), carried in Settings.linux, passed to the join document as
 * SudoGroups, SetHostname, DynamicDns, SssdOptions, Krb5Rdns (infra/documents/join.sh checks
 * each again: the same allow-list and character sets).
 */

export interface LinuxSettings {
  /** AD groups given `ALL=(ALL) ALL` in /etc/sudoers.d/adjoin (empty: the file is removed). */
  sudoGroups: string[];
  /** The OS host name becomes the computer's name. */
  setHostname: boolean;
  /** SSSD registers the host's A record in AD DNS (dyndns_update). */
  dynamicDns: boolean;
  /** Extra SSSD [domain/…] options, keys from SSSD_OPTION_KEYS. */
  sssdOptions: Record<string, string>;
  /** false: rdns = false in krb5.conf [libdefaults]. */
  krb5Rdns: boolean;
}

export const LINUX_DEFAULTS: LinuxSettings = { sudoGroups: [], setHostname: false, dynamicDns: false, sssdOptions: {}, krb5Rdns: true };

/**
 * SSSD domain options a deployment may set (join.sh SSSD_OPTION_KEYS holds the same list): none
 * that decides the domain, the providers, the access control adjoin writes or the join itself.
 */
export const SSSD_OPTION_KEYS = [
  'ad_gpo_access_control', 'ad_gpo_map_remote_interactive', 'ad_gpo_map_interactive', 'ad_gpo_ignore_unreadable',
  'override_homedir', 'fallback_homedir', 'default_shell', 'override_shell', 'shell_fallback', 'ldap_user_extra_attrs',
  'use_fully_qualified_names', 'full_name_format', 'case_sensitive', 'auto_private_groups', 'ignore_group_members',
  'ldap_use_tokengroups', 'ldap_referrals', 'entry_cache_timeout', 'cache_credentials', 'krb5_store_password_if_offline',
  'dyndns_refresh_interval', 'dyndns_ttl',
] as const;

/** At most this many options (the document's SssdOptions pattern allows 16). */
export const SSSD_OPTION_LIMIT = 16;
export const SSSD_VALUE_MAX = 256;

/** A group name the SudoGroups parameter carries (the LoginGroups character set; join.sh escapes spaces and parentheses for sudoers). */
export const SUDO_GROUP_RE = /^[A-Za-z0-9 _.()-]{1,64}$/;

/** The problem with one SSSD option, or undefined. */
export function sssdOptionProblem(key: string, value: unknown): string | undefined {
  if (!(SSSD_OPTION_KEYS as readonly string[]).includes(key)) return `${JSON.stringify(key)} is not an allowed SSSD option (allowed: ${SSSD_OPTION_KEYS.join(', ')})`;
  if (typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'number') return `${key}: the value must be a string, number or true/false`;
  const v = String(value).trim();
  if (v === '') return `${key}: the value is empty`;
  if (v.length > SSSD_VALUE_MAX) return `${key}: the value is over ${SSSD_VALUE_MAX} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[;[\]\x00-\x1f\x7f]/.test(v)) return `${key}: the value must not hold ; [ ] or control characters (newlines): it is written as one line of sssd.conf`;
  return undefined;
}

/** The problem with one sudo group name, or undefined. */
export function sudoGroupProblem(name: string): string | undefined {
  if (SUDO_GROUP_RE.test(name)) return undefined;
  return `${JSON.stringify(name)}: a sudo group name may hold only A-Z a-z 0-9, space, _ . ( ) - (1 to 64 characters), the set the join document's SudoGroups parameter accepts`;
}

/** Every problem of Settings.linux (absent is fine: the defaults apply). */
export function linuxSettingsProblems(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ['linux: must be an object'];
  const l = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (!Array.isArray(l.sudoGroups) || l.sudoGroups.some((g) => typeof g !== 'string' || sudoGroupProblem(g) !== undefined))
    problems.push('linux.sudoGroups: must be a list of group names (A-Z a-z 0-9, space, _ . ( ) -)');
  for (const k of ['setHostname', 'dynamicDns', 'krb5Rdns'] as const) if (typeof l[k] !== 'boolean') problems.push(`linux.${k}: must be true or false`);
  const o = l.sssdOptions;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) problems.push('linux.sssdOptions: must be an object');
  else {
    for (const [k, v] of Object.entries(o)) {
      const p = sssdOptionProblem(k, v);
      if (p) problems.push(`linux.sssdOptions: ${p}`);
    }
    if (Object.keys(o).length > SSSD_OPTION_LIMIT) problems.push(`linux.sssdOptions: at most ${SSSD_OPTION_LIMIT} options`);
  }
  return problems;
}

/** The join document's parameters for these settings (absent: the defaults). */
export function linuxJoinParameters(linux: LinuxSettings = LINUX_DEFAULTS): Record<'SudoGroups' | 'SetHostname' | 'DynamicDns' | 'SssdOptions' | 'Krb5Rdns', string> {
  const options = Object.entries(linux.sssdOptions).map(([k, v]) => `${k}=${String(v).trim()}`);
  return {
    DynamicDns: String(linux.dynamicDns),
    SudoGroups: linux.sudoGroups.length > 0 ? linux.sudoGroups.join(',') : '-',
    SetHostname: String(linux.setHostname),
    SssdOptions: options.length > 0 ? options.join(';') : '-',
    Krb5Rdns: String(linux.krb5Rdns),
  };
}
