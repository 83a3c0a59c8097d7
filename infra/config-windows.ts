/**
 * The `windows` configuration keys (issue 14): enabled, commandDeadlineSeconds, ssmOnlineDeadlineSeconds,
 * remoteDesktopGroup, administratorsGroup, adminGroups. Off by default: without
 * `windows.enabled`, "Read instance" skips Windows instances, and neither the Windows join
 * document nor any permission to send it is deployed. Validated here, each problem naming its
 * key; the runtime settings are checked again by tasks/lib/windows.ts windowsSettingsProblems,
 * and the document checks every value once more (infra/documents/join-windows.ps1).
 */
import { WINDOWS_DEFAULTS, windowsSettingsProblems, type WindowsSettings } from '../tasks/lib/windows-settings';

export const WINDOWS_KEYS = ['enabled', 'commandDeadlineSeconds', 'ssmOnlineDeadlineSeconds', 'remoteDesktopGroup', 'administratorsGroup', 'adminGroups'];

export interface WindowsConfigInput {
  enabled?: boolean;
  commandDeadlineSeconds?: number;
  ssmOnlineDeadlineSeconds?: number;
  remoteDesktopGroup?: string;
  administratorsGroup?: string;
  adminGroups?: string[];
}

export interface WindowsConfig extends WindowsSettings {
  enabled: boolean;
}

/** Resolves `windows` (undefined: disabled, every default); reports each problem through `bad(key, why)`. */
export function resolveWindowsConfig(raw: unknown, bad: (key: string, why: string) => void): WindowsConfig {
  const out: WindowsConfig = { enabled: false, ...WINDOWS_DEFAULTS, adminGroups: [] };
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    bad('windows', 'must be an object');
    return out;
  }
  const w = raw as Record<string, unknown>;
  for (const k of Object.keys(w)) if (!WINDOWS_KEYS.includes(k)) bad(`windows.${k}`, 'unknown key');
  if (w.enabled !== undefined && typeof w.enabled !== 'boolean') bad('windows.enabled', 'must be true or false');
  const trimmed: unknown[] | undefined = Array.isArray(w.adminGroups) ? w.adminGroups.map((g: unknown) => (typeof g === 'string' ? g.trim() : g)) : undefined;
  const { enabled, ...settings }: Record<string, unknown> = { ...out, ...w, ...(trimmed ? { adminGroups: trimmed } : {}) };
  const problems = windowsSettingsProblems(settings);
  for (const p of problems) {
    const [key, ...why] = p.split(': ');
    bad(key ?? 'windows', why.join(': '));
  }
  if (problems.length > 0) return out;
  const valid = settings as unknown as WindowsSettings;
  return { ...valid, enabled: enabled === true, adminGroups: [...new Set(valid.adminGroups)] };
}

/** The runtime settings of a resolved `windows` (undefined when Windows is disabled). */
export const windowsSettingsOf = (w: WindowsConfig): WindowsSettings | undefined =>
  w.enabled ? { commandDeadlineSeconds: w.commandDeadlineSeconds, ssmOnlineDeadlineSeconds: w.ssmOnlineDeadlineSeconds, remoteDesktopGroup: w.remoteDesktopGroup, administratorsGroup: w.administratorsGroup, adminGroups: w.adminGroups } : undefined;
