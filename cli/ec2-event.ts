/**
 * The execution input the CLI starts with: exactly the EventBridge "EC2 Instance State-change
 * Notification" that starts join and leave in production, so a CLI-started execution walks the
 * same path. Also: execution names that carry the instance ID, and reading it back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Ec2StateEvent } from '../tasks/lib/contracts';
import type { LifecycleAction } from '../tasks/lib/ports';
import type { Workflow } from './backend';
import { usage } from './exit';
import { isObj } from '../tasks/lib/validate';

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

export function validateInstanceId(value: string): string {
  if (!INSTANCE_ID.test(value)) {
    throw usage(
      `Not an EC2 instance ID: ${JSON.stringify(value)}`,
      'An instance ID is i- followed by 8 or 17 lower-case hex digits, e.g. i-0123456789abcdef0.',
    );
  }
  return value;
}

export function validateAccount(value: string): string {
  if (!ACCOUNT.test(value)) throw usage(`Not an AWS account ID (12 digits): ${JSON.stringify(value)}`);
  return value;
}

export function validateRegion(value: string): string {
  if (!REGION.test(value)) throw usage(`Not an AWS Region name: ${JSON.stringify(value)}`);
  return value;
}

export interface EventTarget {
  instanceId: string;
  state: 'running' | 'terminated';
  account: string;
  region: string;
  partition?: string;
  time?: Date;
  /** Event id; a UUID by default (EventBridge's own ids are UUIDs). */
  id?: string;
}

/** The EventBridge envelope (everything but detail). */
const envelope = <T extends string, S extends string>(t: Omit<EventTarget, 'state'>, detailType: T, source: S, resource: string) => ({
  version: '0' as const,
  id: t.id ?? randomUUID(),
  'detail-type': detailType,
  source,
  account: t.account,
  time: (t.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  region: t.region,
  resources: [resource],
});

/** The EventBridge "EC2 Instance-launch Lifecycle Action" event of a launch hook, field for field (the lab's groups). */
export function lifecycleLaunchEvent(t: Omit<EventTarget, 'state'> & { action: LifecycleAction }): Record<string, unknown> {
  const group = t.action.autoScalingGroupName;
  return {
    ...envelope(t, 'EC2 Instance-launch Lifecycle Action', 'aws.autoscaling', `arn:${t.partition ?? 'aws'}:autoscaling:${t.region}:${t.account}:autoScalingGroup:1:autoScalingGroupName/${group}`),
    detail: {
      LifecycleActionToken: t.action.lifecycleActionToken,
      AutoScalingGroupName: group,
      LifecycleHookName: t.action.lifecycleHookName,
      EC2InstanceId: t.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    },
  };
}

/** The EventBridge EC2 state-change event, field for field. */
export function ec2StateEvent(t: EventTarget): Ec2StateEvent {
  return {
    ...envelope(t, 'EC2 Instance State-change Notification', 'aws.ec2', `arn:${t.partition ?? 'aws'}:ec2:${t.region}:${t.account}:instance/${t.instanceId}`),
    detail: { 'instance-id': t.instanceId, state: t.state },
  };
}

/** The state an event must carry to start a workflow. */
export const eventStateFor = (workflow: Workflow): 'running' | 'terminated' =>
  workflow === 'leave' ? 'terminated' : 'running';

/**
 * Execution names the CLI uses: `<workflow>-<instance>-<UTC time>-<4 hex>` (reconcile: `cli`
 * in place of the instance). Allowed characters and ≤ 80 characters, as Step Functions requires.
 */
export function executionName(workflow: Workflow, instanceId: string | undefined, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${workflow}-${instanceId ?? 'cli'}-${stamp}-${randomBytes(2).toString('hex')}`;
}

const ID_IN_TEXT = /\bi-(?:[0-9a-f]{17}|[0-9a-f]{8})(?![0-9a-f])/;

/** The instance ID in an execution name, when the name carries one. */
export function instanceFromName(name: string): string | undefined {
  return ID_IN_TEXT.exec(name)?.[0];
}


/** The instance ID in an execution input (an EC2 event, or anything with instance.instanceId). */
export function instanceFromInput(input: unknown): string | undefined {
  if (!isObj(input)) return undefined;
  const detail = input.detail;
  if (isObj(detail) && typeof detail['instance-id'] === 'string') return detail['instance-id'];
  const instance = input.instance;
  if (isObj(instance) && typeof instance.instanceId === 'string') return instance.instanceId;
  if (typeof input.instanceId === 'string') return input.instanceId;
  return undefined;
}
