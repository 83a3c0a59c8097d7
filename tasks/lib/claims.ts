/**
 * The join claim of an instance: its key, the rule that lets an execution take it, and the item
 * a take writes. One rule for both implementations: tasks/adapters/dynamodb-claims.ts spells it
 * as a DynamoDB condition expression, lab/sim/claims.ts evaluates `mayTake` itself.
 *
 *   no item                                   take
 *   status joined                             never (already joined; nothing written)
 *   held by the same execution                take (a retried or redriven task)
 *   status failed or released                 take (a failed join no longer blocks)
 *   lease expired (leaseUntil < now)          take
 *   leaseUntil > now + lease, claimedAt > now + skew: invalid          take
 *   otherwise                                 held by another execution (in-progress)
 *
 * No AWS or LDAP import.
 */
import type { InstanceRef } from './contracts';
import type { Claim } from './ports';

/** Seconds a claimedAt may lie in the future (clock skew between Lambdas) before it is invalid. */
export const CLAIM_SKEW_SECONDS = 60;
/** How long an item outlives its lease before DynamoDB's TTL removes it. */
export const CLAIM_RETENTION_SECONDS = 90 * 86400;

/** `<account>/<region>/<instance-id>`: the claims-table key of an instance. */
export const claimKey = (ref: InstanceRef): string => `${ref.account}/${ref.region}/${ref.instanceId}`;

/** May `execution` take the claim over `item` at `now`? (The DynamoDB condition says the same.) */
export function mayTake(item: Claim | undefined, execution: string, nowSeconds: number, leaseSeconds: number): boolean {
  if (item === undefined) return true;
  if (item.status === 'joined') return false;
  if (item.execution === execution) return true;
  if (item.status === 'failed' || item.status === 'released') return true;
  if (!(item.leaseUntil >= nowSeconds)) return true;
  if (item.leaseUntil > nowSeconds + leaseSeconds + CLAIM_SKEW_SECONDS) return true;
  return item.claimedAt > nowSeconds + CLAIM_SKEW_SECONDS;
}

/** The item a take writes (the whole item: a take-over starts a clean record). */
export function newClaim(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Claim {
  const leaseUntil = nowSeconds + leaseSeconds;
  return { key, execution, status: 'joining', claimedAt: nowSeconds, leaseUntil, ttl: leaseUntil + CLAIM_RETENTION_SECONDS, round: 0 };
}
