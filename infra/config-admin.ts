/**
 * The `linux` configuration keys (issue 12): sudoGroups, setHostname, dynamicDns, sssdOptions,
 * krb5Rdns. Validated here, each problem naming its key; the defaults in LINUX_DEFAULTS. The
 * join document checks every value again (infra/documents/join.sh).
 */
import { LINUX_DEFAULTS, SSSD_OPTION_LIMIT, sssdOptionProblem, sudoGroupProblem, type LinuxSettings } from '../tasks/lib/linux-settings';

export const LINUX_KEYS = ['sudoGroups', 'setHostname', 'dynamicDns', 'sssdOptions', 'krb5Rdns'];

/** Resolves `linux` (undefined: every default); reports each problem through `bad(key, why)`. */
export function resolveLinuxConfig(raw: unknown, bad: (key: string, why: string) => void): LinuxSettings {
  const out: LinuxSettings = { ...LINUX_DEFAULTS, sudoGroups: [], sssdOptions: {} };
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    bad('linux', 'must be an object');
    return out;
  }
  const l = raw as Record<string, unknown>;
  for (const k of Object.keys(l)) if (!LINUX_KEYS.includes(k)) bad(`linux.${k}`, 'unknown key');

  if (l.sudoGroups !== undefined) {
    if (!Array.isArray(l.sudoGroups) || l.sudoGroups.some((g) => typeof g !== 'string')) bad('linux.sudoGroups', 'must be a list of AD group names');
    else {
      const groups = (l.sudoGroups as string[]).map((g) => g.trim());
      for (const g of groups) {
        const p = sudoGroupProblem(g);
        if (p) bad('linux.sudoGroups', p);
      }
      if (groups.join(',').length > 1024) bad('linux.sudoGroups', 'joined with commas they exceed the join document\'s 1024 characters');
      out.sudoGroups = [...new Set(groups)];
    }
  }
  for (const k of ['setHostname', 'dynamicDns', 'krb5Rdns'] as const) {
    const v = l[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') bad(`linux.${k}`, 'must be true or false');
    else out[k] = v;
  }
  if (l.sssdOptions !== undefined) {
    const o = l.sssdOptions;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('linux.sssdOptions', 'must be an object of SSSD option: value');
    else {
      const entries = Object.entries(o as Record<string, unknown>);
      if (entries.length > SSSD_OPTION_LIMIT) bad('linux.sssdOptions', `at most ${SSSD_OPTION_LIMIT} options`);
      for (const [k, v] of entries) {
        const p = sssdOptionProblem(k, v);
        if (p) bad(`linux.sssdOptions.${k}`, p);
        else out.sssdOptions[k] = String(v).trim();
      }
    }
  }
  return out;
}
