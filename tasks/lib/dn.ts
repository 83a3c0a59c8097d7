/**
 * Distinguished names, parsed properly (RFC 4514) so that "is this object inside that OU" is
 * decided on RDN boundaries, case-insensitively, with escapes understood — never by substring.
 *
 *   CN=web1,OU=Managed,DC=corp,DC=example,DC=com        inside  OU=Managed,DC=corp,...
 *   CN=web1,OU=NotManaged,DC=corp,DC=example,DC=com     NOT inside (a substring match says yes)
 *   CN=web1,OU=Evil\,OU=Managed,DC=corp,DC=example,DC=com  NOT inside (one RDN "OU=Evil,OU=Managed")
 *
 * No LDAP import: pure functions.
 */

/** One attribute=value pair, normalised (type and value lower case, escapes decoded). */
export interface Ava {
  type: string;
  value: string;
}
/** One RDN: its AVAs sorted, so multi-valued RDNs compare regardless of order. */
export type Rdn = Ava[];

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ']);
const HEX = /^[0-9a-fA-F]{2}$/;
const TYPE = /^([a-z][a-z0-9-]*|\d+(\.\d+)*)$/;

/**
 * Parses a DN into its RDNs (leftmost first), normalised for comparison. Returns undefined for
 * anything malformed (empty RDN, a missing '=', a dangling escape, bad hex, a broken quote):
 * a DN we cannot read is never "inside" anything.
 */
export function parseDn(dn: string): Rdn[] | undefined {
  if (typeof dn !== 'string' || dn.trim() === '') return undefined;
  if (!/[\\"+;]/.test(dn)) return parseSimpleDn(dn);
  const rdns: Rdn[] = [];
  let rdn: Ava[] = [];
  let i = 0;
  const n = dn.length;
  const skipSpaces = (): void => {
    while (i < n && dn[i] === ' ') i++;
  };
  for (;;) {
    // attribute type
    skipSpaces();
    const typeStart = i;
    while (i < n && dn[i] !== '=' && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') i++;
    if (i >= n || dn[i] !== '=') return undefined;
    const type = dn.slice(typeStart, i).trim().toLowerCase();
    if (!TYPE.test(type)) return undefined;
    i++; // '='
    skipSpaces();
    // attribute value. Hex escapes may spell a UTF-8 sequence: pending bytes are decoded together.
    let value = '';
    let significant = 0; // value.length after the last non-space or escaped character
    let bytes: number[] = [];
    const flushBytes = (): void => {
      if (bytes.length > 0) {
        value += Buffer.from(bytes).toString('utf8');
        significant = value.length;
        bytes = [];
      }
    };
    const quoted = dn[i] === '"';
    if (quoted) i++;
    let closed = !quoted;
    while (i < n) {
      const c = dn[i] as string;
      if (c === '\\') {
        const a = dn[i + 1];
        if (a === undefined) return undefined;
        const pair = dn.slice(i + 1, i + 3);
        if (HEX.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 3;
          continue;
        }
        if (!SPECIAL.has(a)) return undefined;
        flushBytes();
        value += a;
        significant = value.length;
        i += 2;
        continue;
      }
      flushBytes();
      if (quoted) {
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        significant = value.length;
        i++;
        continue;
      }
      if (c === ',' || c === '+' || c === ';') break;
      if (c === '"' || c === '=') return undefined; // unescaped quote or '=' inside a value (never inside anything)
      value += c;
      if (c !== ' ') significant = value.length;
      i++;
    }
    flushBytes();
    if (!closed) return undefined;
    if (quoted) skipSpaces();
    else value = value.slice(0, significant);
    if (value === '') return undefined;
    rdn.push({ type, value: value.toLowerCase() });
    if (i >= n) {
      rdns.push(sortRdn(rdn));
      break;
    }
    const sep = dn[i];
    if (sep !== ',' && sep !== '+' && sep !== ';') return undefined; // text after a closing quote
    i++;
    if (sep === '+') continue;
    rdns.push(sortRdn(rdn));
    rdn = [];
    if (i >= n) return undefined; // trailing separator
  }
  return rdns;
}

/** The common case, no escapes, quotes or multi-valued RDNs: same result, much faster. */
function parseSimpleDn(dn: string): Rdn[] | undefined {
  const rdns: Rdn[] = [];
  for (const part of dn.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const type = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).replace(/^ +| +$/g, '').toLowerCase();
    if (!TYPE.test(type) || value === '' || value.includes('=')) return undefined;
    rdns.push([{ type, value }]);
  }
  return rdns;
}

function sortRdn(rdn: Ava[]): Rdn {
  if (rdn.length < 2) return rdn;
  return [...rdn].sort((x, y) => (x.type + '=' + x.value < y.type + '=' + y.value ? -1 : 1));
}

/** Containers (managed OUs) are few and asked about often: their parse is kept. */
const containerCache = new Map<string, Rdn[] | undefined>();
function parseContainer(dn: string): Rdn[] | undefined {
  if (!containerCache.has(dn)) {
    if (containerCache.size > 100) containerCache.clear();
    containerCache.set(dn, parseDn(dn));
  }
  return containerCache.get(dn);
}

function sameRdn(a: Rdn, b: Rdn): boolean {
  return a.length === b.length && a.every((ava, k) => ava.type === b[k]?.type && ava.value === b[k]?.value);
}

/** The same entry? (normalised comparison; malformed DNs are never equal to anything) */
export function sameDn(a: string, b: string): boolean {
  const x = parseDn(a);
  const y = parseDn(b);
  return x !== undefined && y !== undefined && x.length === y.length && x.every((r, k) => sameRdn(r, y[k] as Rdn));
}

/**
 * True when `dn` names an entry strictly below `container` (at any depth), comparing whole RDNs
 * from the right. The container itself is not "inside" itself.
 */
export function isInside(dn: string, container: string): boolean {
  const x = parseDn(dn);
  const y = parseContainer(container);
  if (x === undefined || y === undefined || x.length <= y.length) return false;
  const offset = x.length - y.length;
  return y.every((r, k) => sameRdn(x[offset + k] as Rdn, r));
}

/**
 * A strict, shell-inert distinguished name for the OUs adjoin is configured with (computerOu,
 * managedOus) and the join document's ComputerOu parameter (its SSM `allowedPattern`): RDNs
 * `OU=` / `CN=` / `DC=` separated by commas; a value character is anything but a DN special
 * (`, + " \ < > ; = #`), a quote, `$`, a backtick or a control character, unless escaped the way
 * AD writes it (`\,` `\+` `\"` `\\` `\<` `\>` `\;` `\=` `\#` `\ ` or `\XX` hex). One pattern, used
 * by JS (config, tests) and by SSM (the document), so it keeps to the common regex subset.
 */
export const STRICT_DN_PATTERN =
  '^(?:[Oo][Uu]|[Cc][Nn]|[Dd][Cc])=(?:[^,+"\\\\<>;=#$\'`\\x00-\\x1f\\x7f]|\\\\[,+"\\\\<>;=# ]|\\\\[0-9A-Fa-f]{2})+' +
  '(?:,(?:[Oo][Uu]|[Cc][Nn]|[Dd][Cc])=(?:[^,+"\\\\<>;=#$\'`\\x00-\\x1f\\x7f]|\\\\[,+"\\\\<>;=# ]|\\\\[0-9A-Fa-f]{2})+)*$';

/** True when `dn` is a strict DN (STRICT_DN_PATTERN) of at most 1024 characters. */
export function isStrictDn(dn: string): boolean {
  return typeof dn === 'string' && dn.length <= 1024 && new RegExp(STRICT_DN_PATTERN).test(dn);
}
