/**
 * Human output: aligned tables, durations, times (absolute UTC and relative), colour only on a
 * TTY and never when NO_COLOR is set. Pure functions; the caller decides where text goes.
 */

export interface Style {
  enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap =
  (enabled: boolean, open: number, close: number) =>
  (s: string): string =>
    enabled && s !== '' ? `\u001b[${open}m${s}\u001b[${close}m` : s;

/** Colour when writing to a TTY and NO_COLOR is unset or empty (https://no-color.org). */
export function colourEnabled(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

export function makeStyle(enabled: boolean): Style {
  return {
    enabled,
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
    dim: wrap(enabled, 2, 22),
    bold: wrap(enabled, 1, 22),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
export const visibleLength = (s: string): number => [...s.replace(ANSI, '')].length;

const pad = (s: string, width: number): string => s + ' '.repeat(Math.max(0, width - visibleLength(s)));

/** Rows under a header, columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(header: string[], rows: string[][], style: Style): string {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i] ?? 0)))
      .join('  ')
      .replace(/\s+$/, '');
  return [style.bold(line(header.map((h, i) => pad(h, i === header.length - 1 ? 0 : (widths[i] ?? 0))))), ...rows.map(line)].join('\n');
}

/** 850ms, 12.3s, 3m 05s, 1h 02m, 2d 03h. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  if (v < 10_000) return `${(v / 1000).toFixed(1)}s`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

/** "5m ago", "in 3s", "just now". */
export function relative(date: Date, now: Date): string {
  const diff = now.getTime() - date.getTime();
  const abs = Math.abs(diff);
  if (abs < 1000) return 'just now';
  const text = duration(abs).replace(/\s.*$/, '').replace(/\.\d+s$/, 's');
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** 2026-11-21 10:15:02Z */
export const absolute = (date: Date): string => date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');

/** 2026-11-21 10:15:02Z (5m ago) */
export const when = (date: Date | undefined, now: Date): string =>
  date === undefined ? '-' : `${absolute(date)} (${relative(date, now)})`;

/** A clock time for a timeline row: 10:15:02.123 (date omitted: the heading has it). */
export const clock = (date: Date): string => date.toISOString().slice(11, 23);

/** First line of a long text, cut to `max` visible characters. */
export function oneLine(text: string | undefined, max = 160): string {
  if (text === undefined) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Parses 90s, 30m, 24h, 7d, 2w or an ISO date into the moment it names. */
export function parseSince(text: string, now: Date): Date | undefined {
  const m = /^(\d+)\s*(s|m|h|d|w)$/i.exec(text.trim());
  if (m) {
    const n = Number(m[1]);
    const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - n * unit * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const d = new Date(text);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return undefined;
}
