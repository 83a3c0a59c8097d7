/**
 * Windows joins (issue 14): the `windows` settings — the Windows command's deadline and the
 * local groups — configured as `windows.*` (infra/config-windows.ts), carried in
 * Settings.windows, passed to the Windows join document (tasks/lib/windows.ts
 * windowsJoinParameters; infra/documents/join-windows.ps1 checks each value again).
 */

/** Present in Settings only when Windows is enabled: without it "Read instance" skips Windows instances. */
export interface WindowsSettings {
  /**
   * Deadline of the Windows join command: the join, the reboot SSM makes for exit 3010, the
   * agent coming back and the second run (slower than Linux: default 1800 s).
   */
  commandDeadlineSeconds: number;
  /**
   * How long "Wait for SSM Online" waits for a Windows instance's agent (first boot, sysprep:
   * later than Linux; default 1200 s). Linux instances keep timings.ssmOnlineDeadlineSeconds.
   */
  ssmOnlineDeadlineSeconds: number;
  /** Local group the login groups join (the document's default: "Remote Desktop Users"). */
  remoteDesktopGroup: string;
  /** Local administrators group (the document's default: "Administrators"). */
  administratorsGroup: string;
  /** AD groups made local administrators (default none). */
  adminGroups: string[];
}

export const WINDOWS_DEFAULTS: WindowsSettings = {
  commandDeadlineSeconds: 1800,
  ssmOnlineDeadlineSeconds: 1200,
  remoteDesktopGroup: 'Remote Desktop Users',
  administratorsGroup: 'Administrators',
  adminGroups: [],
};

/** The command deadline range (the document's own timeout is the same number). */
export const WINDOWS_DEADLINE = { min: 300, max: 7200 } as const;
/** The SSM Online deadline range (the same as timings.ssmOnlineDeadlineSeconds). */
export const WINDOWS_SSM_DEADLINE = { min: 30, max: 86400 } as const;
/** A local group name (join-windows.ps1 RemoteDesktopGroup / AdministratorsGroup pattern). */
export const LOCAL_GROUP_RE = /^[A-Za-z0-9 _.-]{1,64}$/;
/** An AD group made local administrator (join-windows.ps1 AdminGroups items: no parentheses). */
export const ADMIN_GROUP_RE = /^[A-Za-z0-9 _.-]{1,64}$/;

/** Every problem of a `windows` settings object (undefined: Windows disabled, none). */
export function windowsSettingsProblems(raw: unknown, key = 'windows'): string[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [`${key}: must be an object`];
  const w = raw as Record<string, unknown>;
  const problems: string[] = [];
  const d = w.commandDeadlineSeconds;
  if (typeof d !== 'number' || !Number.isInteger(d) || d < WINDOWS_DEADLINE.min || d > WINDOWS_DEADLINE.max)
    problems.push(`${key}.commandDeadlineSeconds: must be a whole number from ${WINDOWS_DEADLINE.min} to ${WINDOWS_DEADLINE.max}`);
  const o = w.ssmOnlineDeadlineSeconds;
  if (typeof o !== 'number' || !Number.isInteger(o) || o < WINDOWS_SSM_DEADLINE.min || o > WINDOWS_SSM_DEADLINE.max)
    problems.push(`${key}.ssmOnlineDeadlineSeconds: must be a whole number from ${WINDOWS_SSM_DEADLINE.min} to ${WINDOWS_SSM_DEADLINE.max}`);
  for (const k of ['remoteDesktopGroup', 'administratorsGroup'] as const)
    if (typeof w[k] !== 'string' || !LOCAL_GROUP_RE.test(w[k])) problems.push(`${key}.${k}: must be a local group name (1-64 of A-Z a-z 0-9 space _ . -)`);
  const admins = w.adminGroups;
  if (!Array.isArray(admins) || admins.some((g) => typeof g !== 'string' || !ADMIN_GROUP_RE.test(g)))
    problems.push(`${key}.adminGroups: must be a list of AD group names (1-64 of A-Z a-z 0-9 space _ . -)`);
  else if (admins.join(',').length > 1024) problems.push(`${key}.adminGroups: joined with commas they exceed the document's 1024 characters`);
  return problems;
}

