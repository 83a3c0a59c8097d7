/**
 * Computer names, derived from the instance ID.
 *
 * The rule (deterministic, so every retry, redrive and duplicate event computes the same name):
 *
 *   name(instanceId, prefix, attempt) =
 *     upper(prefix) + L + B
 *   where D = SHA-256("adjoin-name:" + instanceId)            for attempt 0
 *             SHA-256("adjoin-name:" + instanceId + "#" + n)  for attempt n >= 1
 *         L = 'A'..'Z' chosen by D[0] mod 26        (a letter: the name is never all digits)
 *         B = base32 (RFC 4648 alphabet A-Z 2-7) of D[1..], cut so the name is 15 characters
 *
 * So a name is always exactly 15 characters of [A-Z2-7] after the prefix (prefix: 0-4 letters or
 * digits): a valid NetBIOS name and DNS label. With no prefix, 14 base32 characters carry 70
 * bits: collisions among real fleets are negligible, but a name can still be taken by an object
 * that is not ours (a hand-made computer, a pre-existing object): then attempt 1, 2, ... up to
 * MAX_NAME_ATTEMPTS - 1 give other names, derived the same way. The full identity of the
 * instance is never in the name: it is in the marker (tasks/lib/marker.ts).
 */
import { createHash } from 'node:crypto';
import { InvalidInput } from './errors';

export const MAX_NAME_LENGTH = 15;
/** Candidates 0 .. MAX_NAME_ATTEMPTS-1 are tried before ComputerNameConflict. */
export const MAX_NAME_ATTEMPTS = 4;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** A directory's name in `directories` (a settings path segment and an EC2 tag value too). */
export const DIRECTORY_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The computer name for an instance: candidate `attempt` of the collision rule above. */
export function computerName(instanceId: string, prefix = '', attempt = 0): string {
  if (!INSTANCE_ID.test(instanceId)) throw new InvalidInput(`Not an EC2 instance ID: ${JSON.stringify(instanceId)}`);
  if (!/^[A-Za-z0-9]{0,4}$/.test(prefix)) throw new InvalidInput(`naming prefix must be 0 to 4 letters or digits, got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(attempt) || attempt < 0 || attempt >= MAX_NAME_ATTEMPTS)
    throw new InvalidInput(`name attempt must be 0 to ${MAX_NAME_ATTEMPTS - 1}, got ${attempt}`);
  const seed = attempt === 0 ? `adjoin-name:${instanceId}` : `adjoin-name:${instanceId}#${attempt}`;
  const digest = createHash('sha256').update(seed, 'utf8').digest();
  const letter = LETTERS[(digest[0] as number) % 26] as string;
  const rest = base32(digest.subarray(1));
  const head = prefix.toUpperCase() + letter;
  return head + rest.slice(0, MAX_NAME_LENGTH - head.length);
}

/** Every candidate name in order (attempt 0 first). */
export function computerNameCandidates(instanceId: string, prefix = ''): string[] {
  return Array.from({ length: MAX_NAME_ATTEMPTS }, (_, n) => computerName(instanceId, prefix, n));
}

/** A valid NetBIOS computer name as we make them: 1-15 of letters, digits, hyphen; not all digits; no leading/trailing hyphen. */
export function isValidComputerName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= MAX_NAME_LENGTH &&
    /^[A-Za-z0-9-]+$/.test(name) &&
    !/^[0-9]+$/.test(name) &&
    !name.startsWith('-') &&
    !name.endsWith('-')
  );
}

/** The host's FQDN: the name in lower case under the directory's DNS domain. */
export function hostFqdn(name: string, domain: string): string {
  return `${name.toLowerCase()}.${domain.toLowerCase()}`;
}

/**
 * Parameter Store path under which an instance's one-time join password lives (SecureString),
 * `/<resource prefix>/otp/` — the path infra grants (infra/config.ts resourceNames).
 */
export const JOIN_SECRET_PATH = '/adjoin/otp/';
/**
 * Tag on every one-time-password parameter: the ARN of the instance it is for. The instance
 * policy lets an instance read a parameter only when this tag equals its own ARN
 * (ssm:resourceTag/adjoin:instance-arn = \${ec2:SourceInstanceARN}, infra/otp.ts).
 */
export const OTP_INSTANCE_TAG = 'adjoin:instance-arn';

/** The ARN of an EC2 instance (the value of OTP_INSTANCE_TAG). */
export const instanceArn = (partition: string, region: string, account: string, instanceId: string): string =>
  `arn:${partition}:ec2:${region}:${account}:instance/${instanceId}`;

export const joinSecretName = (instanceId: string, path = JOIN_SECRET_PATH): string => `${path}${instanceId}`;

/**
 * The join-secret path for deployed settings: infra names the join document `<prefix>-join`
 * and the parameters `/<prefix>/otp/`, so the prefix is read back from the document name.
 */
export function joinSecretPath(joinDocumentName: string): string {
  const m = /^([A-Za-z0-9_.-]{1,60})-join$/.exec(joinDocumentName);
  return m ? `/${m[1]}/otp/` : JOIN_SECRET_PATH;
}
