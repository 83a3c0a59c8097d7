/**
 * The marker: who a computer object belongs to, stored in msDS-cloudExtensionAttribute1 as
 *
 *   adjoin:v1:<12-digit account>:<region>:<instance ID>
 *
 * Leave and reconcile match the marker, never the name, the description or an IP. Parsing is
 * strict: anything that is not exactly a full, valid marker is `undefined` (not ours).
 */
import type { Marker } from './ports';
import { InvalidInput } from './errors';
import { INSTANCE_ID } from './naming';

/** The LDAP attribute that holds the marker (single-valued, indexed in AD and Samba). */
export const MARKER_ATTRIBUTE = 'msDS-cloudExtensionAttribute1';
const PREFIX = 'adjoin:v1:';

export const ACCOUNT_ID = /^\d{12}$/;
/** aws Region names: eu-west-1, us-gov-west-1, ap-southeast-4, cn-north-1, eusc-de-east-1 ... */
export const REGION = /^[a-z]{2,4}(?:-[a-z]+){1,3}-\d{1,2}$/;

export function isValidMarker(m: Marker): boolean {
  return ACCOUNT_ID.test(m.account) && REGION.test(m.region) && INSTANCE_ID.test(m.instanceId);
}

/** The stored form. Throws on an invalid marker: we never write one we could not read back. */
export function formatMarker(m: Marker): string {
  if (!isValidMarker(m)) throw new InvalidInput(`Not a valid marker: ${JSON.stringify(m)}`);
  return `${PREFIX}${m.account}:${m.region}:${m.instanceId}`;
}

/** Reads a stored marker; undefined for anything that is not a complete, valid marker. */
export function parseMarker(text: unknown): Marker | undefined {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return undefined;
  const parts = text.slice(PREFIX.length).split(':');
  if (parts.length !== 3) return undefined;
  const [account, region, instanceId] = parts as [string, string, string];
  const m = { account, region, instanceId };
  return isValidMarker(m) ? m : undefined;
}

export function sameMarker(a: Marker | undefined, b: Marker | undefined): boolean {
  return a !== undefined && b !== undefined && a.account === b.account && a.region === b.region && a.instanceId === b.instanceId;
}

/** The human description put on the object (readable in ADUC; never used for matching). */
export function markerDescription(m: Marker): string {
  return `adjoin: EC2 ${m.instanceId} in ${m.account}/${m.region}`;
}
