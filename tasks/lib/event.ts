/**
 * The EventBridge EC2 state-change event that starts a join (or a leave): validated before
 * anything is done, so a malformed or hostile event fails with InvalidInput and no side effect.
 */
import type { Ec2StateEvent } from './contracts';
import { InvalidInput } from './errors';
import { ACCOUNT_ID, REGION } from './marker';
import { INSTANCE_ID } from './naming';

export const EC2_SOURCE = 'aws.ec2';
export const EC2_STATE_CHANGE = 'EC2 Instance State-change Notification';
const STATES = new Set(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
};

/** Returns the event, typed, or throws InvalidInput listing every problem. */
export function parseEc2StateEvent(raw: unknown): Ec2StateEvent {
  if (!isObj(raw)) throw new InvalidInput('event: must be an EventBridge event object');
  const problems: string[] = [];
  if (raw.source !== EC2_SOURCE) problems.push(`source: expected ${EC2_SOURCE}, got ${show(raw.source)}`);
  if (raw['detail-type'] !== EC2_STATE_CHANGE) problems.push(`detail-type: expected "${EC2_STATE_CHANGE}", got ${show(raw['detail-type'])}`);
  if (typeof raw.account !== 'string' || !ACCOUNT_ID.test(raw.account)) problems.push(`account: not a 12-digit account ID: ${show(raw.account)}`);
  if (typeof raw.region !== 'string' || !REGION.test(raw.region)) problems.push(`region: not a Region name: ${show(raw.region)}`);
  const detail = raw.detail;
  if (!isObj(detail)) problems.push('detail: missing');
  else {
    if (typeof detail['instance-id'] !== 'string' || !INSTANCE_ID.test(detail['instance-id']))
      problems.push(`detail.instance-id: not an instance ID: ${show(detail['instance-id'])}`);
    if (typeof detail.state !== 'string' || !STATES.has(detail.state)) problems.push(`detail.state: not an instance state: ${show(detail.state)}`);
  }
  if (problems.length > 0) throw new InvalidInput(`Invalid EC2 event: ${problems.join('; ')}`);
  return raw as unknown as Ec2StateEvent;
}
