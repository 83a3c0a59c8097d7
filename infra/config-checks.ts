/**
 * Checks of single configuration values that need more than a regular expression: the
 * EventBridge Scheduler expression, a `key=value` tag, a login group the join document can
 * carry, an LDAPS URL's host. Each returns the problem (with the fix) or undefined.
 */

const RATE_UNITS = ['minute', 'hour', 'day'] as const;

/** EventBridge Scheduler's cron fields, in order. */
const CRON_FIELDS: { name: string; re: RegExp }[] = [
  { name: 'minutes', re: /^(\*|[0-5]?\d(-[0-5]?\d)?)(\/\d+)?(,[0-5]?\d(-[0-5]?\d)?(\/\d+)?)*$/ },
  { name: 'hours', re: /^(\*|(1?\d|2[0-3])(-(1?\d|2[0-3]))?)(\/\d+)?(,(1?\d|2[0-3])(-(1?\d|2[0-3]))?(\/\d+)?)*$/ },
  { name: 'day-of-month', re: /^(\?|L|\*|([1-9]|[12]\d|3[01])W?(-([1-9]|[12]\d|3[01]))?)(\/\d+)?(,([1-9]|[12]\d|3[01])(-([1-9]|[12]\d|3[01]))?)*$/i },
  { name: 'month', re: /^(\*|(1[0-2]|[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(-(1[0-2]|[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))?)(\/\d+)?(,(1[0-2]|[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(-(1[0-2]|[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))?)*$/i },
  { name: 'day-of-week', re: /^(\?|\*|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])?(-([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT))?)(\/\d+)?(,([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(-([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT))?)*$/i },
  { name: 'year', re: /^(\*|(19[7-9]\d|2[01]\d\d)(-(19[7-9]\d|2[01]\d\d))?)(\/\d+)?(,(19[7-9]\d|2[01]\d\d)(-(19[7-9]\d|2[01]\d\d))?)*$/ },
];

/**
 * An EventBridge Scheduler expression: `rate(1 hour)` / `rate(6 hours)` (minute, hour, day;
 * singular for 1, plural otherwise), `cron(min hour day-of-month month day-of-week year)` (six
 * fields, one of the two day fields `?`), or `at(yyyy-mm-ddThh:mm:ss)`.
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((.*)\)$/.exec(expression);
  if (rate) {
    const m = /^(\d+) ([a-z]+)$/.exec(rate[1] ?? '');
    const n = m ? Number(m[1]) : NaN;
    const unit = m?.[2] ?? '';
    const singular = unit.replace(/s$/, '') as (typeof RATE_UNITS)[number];
    if (!m || !Number.isInteger(n) || n < 1 || !RATE_UNITS.includes(singular))
      return `${JSON.stringify(expression)} is not a rate: write rate(<whole number ≥ 1> <minute|minutes|hour|hours|day|days>), e.g. rate(6 hours)`;
    const want = n === 1 ? singular : `${singular}s`;
    if (unit !== want) return `${JSON.stringify(expression)}: ${n} needs "${want}" (singular for 1, plural otherwise): write rate(${n} ${want})`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = (cron[1] ?? '').trim().split(/\s+/);
    if (fields.length !== 6)
      return `${JSON.stringify(expression)} has ${fields.length} fields; EventBridge Scheduler's cron has six: minutes hours day-of-month month day-of-week year, e.g. cron(0 3 * * ? *)` +
        (fields.length === 5 ? ` (a Unix 5-field cron becomes cron(${fields.slice(0, 4).join(' ')} ${fields[4] === '*' ? '?' : fields[4]} *)${fields[2] !== '*' && fields[4] !== '*' ? ' with one day field ?' : fields[2] === '*' && fields[4] === '*' ? '' : ', one of the day fields ?'})` : '');
    const bad = fields.map((f, i) => ({ f, field: CRON_FIELDS[i] })).filter(({ f, field }) => field && !field.re.test(f));
    if (bad.length > 0) return `${JSON.stringify(expression)}: ${bad.map(({ f, field }) => `${field?.name} ${JSON.stringify(f)}`).join(', ')} not valid`;
    const [, , dom, , dow] = fields;
    if ((dom === '?') === (dow === '?'))
      return `${JSON.stringify(expression)}: exactly one of day-of-month and day-of-week must be "?" (e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON *))`;
    return undefined;
  }
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map(Number) as [number, number, number, number, number, number];
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
      return `${JSON.stringify(expression)} is not a real date and time (at(yyyy-mm-ddThh:mm:ss))`;
    return undefined;
  }
  return `${JSON.stringify(expression)} is not an EventBridge Scheduler expression: rate(6 hours), cron(0 3 * * ? *) (six fields) or at(2027-01-31T03:00:00)`;
}

/** EC2 tag characters: letters, digits, spaces and + - = . _ : / @ (keys and values). */
const TAG_CHARS = /^[\p{L}\p{N} +\-=._:/@]*$/u;

/**
 * A `key=value` tag, parsed strictly: split at the first `=`, key 1–128 and value 1–256 EC2 tag
 * characters, no space at either end of key or value (IAM compares tags with StringEquals:
 * exactly, case and spaces included), key not starting with aws:.
 */
export function parseTag(spec: string): { tag?: { key: string; value: string }; problem?: string } {
  const i = spec.indexOf('=');
  const fix = (k: string, v: string) => `write it as key=value with nothing around "=", e.g. ${JSON.stringify(`${k.trim() || 'Domain:Join'}=${v.trim() || 'true'}`)}`;
  if (i < 0) return { problem: `${JSON.stringify(spec)} has no "=": ${fix(spec, '')}` };
  const key = spec.slice(0, i);
  const value = spec.slice(i + 1);
  if (key.length < 1 || key.length > 128) return { problem: `${JSON.stringify(spec)}: the key must be 1 to 128 characters; ${fix(key, value)}` };
  if (value.length < 1 || value.length > 256) return { problem: `${JSON.stringify(spec)}: the value must be 1 to 256 characters; ${fix(key, value)}` };
  if (key !== key.trim() || value !== value.trim())
    return { problem: `${JSON.stringify(spec)}: spaces at the start or end of the key or value (tags are compared exactly); ${fix(key, value)}` };
  if (!TAG_CHARS.test(key) || !TAG_CHARS.test(value))
    return { problem: `${JSON.stringify(spec)}: only letters, digits, spaces and + - = . _ : / @ are allowed in EC2 tags` };
  if (/^aws:/i.test(key)) return { problem: `${JSON.stringify(spec)}: keys starting with aws: are reserved by AWS` };
  return { tag: { key, value } };
}

/**
 * What one login group name may hold: the join document passes LoginGroups through the pattern
 * `^[A-Za-z0-9 _.,-]{0,1024}$` (infra/documents/join.sh `# param: LoginGroups`) and the script
 * checks each comma-separated name against `[A-Za-z0-9 _.-]{1,64}` before writing SSSD's
 * simple_allow_groups. A name outside that set would fail every join at the document.
 */
export const LOGIN_GROUP_RE = /^[A-Za-z0-9 _.-]{1,64}$/;
export const LOGIN_GROUP_LIMIT = 1024;

export function loginGroupProblem(name: string): string | undefined {
  if (LOGIN_GROUP_RE.test(name)) return undefined;
  const odd = [...new Set([...name].filter((ch) => !/[A-Za-z0-9 _.-]/.test(ch)))].map((ch) => JSON.stringify(ch)).join(' ');
  return `${JSON.stringify(name)} cannot be passed to the join document${odd ? ` (it holds ${odd})` : ' (1 to 64 characters)'}: ` +
    'a login group name may hold only A-Z a-z 0-9, space, _ . - (1 to 64 characters), the set the document\'s LoginGroups parameter and its script accept; ' +
    'use another group (or rename it / nest it in one with such a name)';
}

/** An ldaps:// URL whose host is an IP address: the certificate cannot be checked without tlsServerName. */
export const ldapUrlHostIsIp = (url: string): boolean => /^ldaps?:\/\/(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\])(:\d+)?$/i.test(url);
