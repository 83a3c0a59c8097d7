/**
 * Entry points: every event that may start a join or a leave, read into one shape.
 *
 *   EC2 "EC2 Instance State-change Notification"   running → join, terminated → leave
 *     (the CLI starts executions with this very shape: `adjoin join <id>` is an EC2 event)
 *   Tags "Tag Change on Resource" for an EC2 instance   opt-in set → join;
 *     opt-out set → leave only with tags.leaveOnOptOut, else recorded and nothing done
 *   Auto Scaling "EC2 Instance-launch Lifecycle Action"     → join (then CONTINUE / ABANDON)
 *   Auto Scaling "EC2 Instance-terminate Lifecycle Action"  → leave (then CONTINUE)
 *
 * Pure: no AWS, no LDAP. A malformed or hostile event throws InvalidInput naming the field,
 * before anything is done. Tag values other than the opt-in and opt-out keys are never read here.
 */
import { InvalidInput } from './errors';
import { ACCOUNT_ID, REGION } from './marker';
import { INSTANCE_ID } from './naming';
import type { LifecycleAction } from './ports';
import type { Settings } from './settings';
import { isOptedIn, isOptedOut } from './tags';
import { ASG_NAME, HOOK_NAME, isObj, LIFECYCLE_TOKEN as TOKEN } from './validate';

export const DetailTypes = {
  stateChange: 'EC2 Instance State-change Notification',
  tagChange: 'Tag Change on Resource',
  lifecycleLaunch: 'EC2 Instance-launch Lifecycle Action',
  lifecycleTerminate: 'EC2 Instance-terminate Lifecycle Action',
} as const;

export const Sources = { ec2: 'aws.ec2', tag: 'aws.tag', autoscaling: 'aws.autoscaling' } as const;

export const LifecycleTransitions = {
  launch: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminate: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

export type Trigger = 'instance-running' | 'instance-terminated' | 'instance-state' | 'tag-change' | 'lifecycle-launch' | 'lifecycle-terminate';

/** What the event asks for. `none`: nothing to do (the reason says why; recorded, not failed). */
export type EntryAction = 'join' | 'leave' | 'none';

export type { LifecycleAction } from './ports';

export interface Entry {
  instanceId: string;
  account: string;
  region: string;
  trigger: Trigger;
  action: EntryAction;
  reason: string;
  lifecycle?: LifecycleAction;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
};

/** Auto Scaling group and hook names: 1-255 printable characters (the API's own limit), no control characters. */
const INSTANCE_ARN = /^arn:aws[a-z-]*:ec2:([a-z0-9-]+):(\d{12}):instance\/(i-[0-9a-f]+)$/;

type Settings4Entry = Pick<Settings, 'tags'>;

/** Reads any entry event. Throws InvalidInput naming every bad field; never acts. */
export function parseEntry(raw: unknown, settings: Settings4Entry): Entry {
  if (!isObj(raw)) throw new InvalidInput('event: must be an EventBridge event object');
  const problems: string[] = [];
  const account = typeof raw.account === 'string' && ACCOUNT_ID.test(raw.account) ? raw.account : void problems.push(`account: not a 12-digit account ID: ${show(raw.account)}`);
  const region = typeof raw.region === 'string' && REGION.test(raw.region) ? raw.region : void problems.push(`region: not a Region name: ${show(raw.region)}`);
  const detail = isObj(raw.detail) ? raw.detail : void problems.push('detail: missing (must be an object)');
  const type = raw['detail-type'];
  const expectSource = (source: string): void => {
    if (raw.source !== source) problems.push(`source: expected ${source} for "${String(type)}", got ${show(raw.source)}`);
  };
  const fail = (): never => {
    throw new InvalidInput(`Invalid ${typeof type === 'string' && (Object.values(DetailTypes) as string[]).includes(type) ? `"${type}" ` : ''}event: ${problems.join('; ')}`);
  };

  switch (type) {
    case DetailTypes.stateChange: {
      expectSource(Sources.ec2);
      const instanceId = detail && instanceIdAt(detail, 'instance-id', problems);
      const state = detail?.state;
      if (detail && (typeof state !== 'string' || !/^[a-z-]{1,20}$/.test(state))) problems.push(`detail.state: not an instance state: ${show(state)}`);
      if (problems.length > 0) fail();
      const where = { instanceId: instanceId as string, account: account as string, region: region as string };
      if (state === 'running') return { ...where, trigger: 'instance-running', action: 'join', reason: 'the instance is running' };
      if (state === 'terminated') return { ...where, trigger: 'instance-terminated', action: 'leave', reason: 'the instance is terminated' };
      return { ...where, trigger: 'instance-state', action: 'none', reason: `the instance is ${String(state)}: neither running nor terminated` };
    }
    case DetailTypes.tagChange: {
      expectSource(Sources.tag);
      if (detail) {
        if (detail.service !== 'ec2') problems.push(`detail.service: expected ec2, got ${show(detail.service)}`);
        if (detail['resource-type'] !== 'instance') problems.push(`detail.resource-type: expected instance, got ${show(detail['resource-type'])}`);
      }
      const changed = detail?.['changed-tag-keys'];
      if (detail && (!Array.isArray(changed) || changed.some((k) => typeof k !== 'string')))
        problems.push(`detail.changed-tag-keys: must be a list of strings, got ${show(changed)}`);
      const tags = detail?.tags;
      if (detail && (!isObj(tags) || Object.values(tags).some((v) => typeof v !== 'string')))
        problems.push(`detail.tags: must be an object of string values, got ${show(tags)}`);
      const resource = Array.isArray(raw.resources) ? (raw.resources[0] as unknown) : undefined;
      const arn = typeof resource === 'string' ? INSTANCE_ARN.exec(resource) : null;
      if (!arn || !INSTANCE_ID.test(arn[3] as string)) problems.push(`resources[0]: not an EC2 instance ARN: ${show(resource)}`);
      else if (arn[1] !== region || arn[2] !== account) problems.push(`resources[0]: ${show(resource)} is not in the event's account and Region`);
      if (problems.length > 0) fail();
      const where = { instanceId: (arn as RegExpExecArray)[3] as string, account: account as string, region: region as string };
      return { ...where, trigger: 'tag-change', ...tagChangeDecision(changed as string[], tags as Record<string, string>, settings.tags) };
    }
    case DetailTypes.lifecycleLaunch:
    case DetailTypes.lifecycleTerminate: {
      expectSource(Sources.autoscaling);
      const launch = type === DetailTypes.lifecycleLaunch;
      const instanceId = detail && instanceIdAt(detail, 'EC2InstanceId', problems);
      const at = (key: string, re: RegExp): string | undefined => {
        const v = detail?.[key];
        if (typeof v === 'string' && re.test(v)) return v;
        if (detail) problems.push(`detail.${key}: not valid: ${show(v)}`);
        return undefined;
      };
      const group = at('AutoScalingGroupName', ASG_NAME);
      const hook = at('LifecycleHookName', HOOK_NAME);
      const token = at('LifecycleActionToken', TOKEN);
      const transition = launch ? LifecycleTransitions.launch : LifecycleTransitions.terminate;
      if (detail && detail.LifecycleTransition !== transition)
        problems.push(`detail.LifecycleTransition: expected ${transition} for "${type}", got ${show(detail.LifecycleTransition)}`);
      if (problems.length > 0) fail();
      return {
        instanceId: instanceId as string,
        account: account as string,
        region: region as string,
        trigger: launch ? 'lifecycle-launch' : 'lifecycle-terminate',
        action: launch ? 'join' : 'leave',
        reason: launch ? `Auto Scaling group ${group as string} is launching the instance (hook ${hook as string})` : `Auto Scaling group ${group as string} is terminating the instance (hook ${hook as string})`,
        lifecycle: { autoScalingGroupName: group as string, lifecycleHookName: hook as string, lifecycleActionToken: token as string, transition: launch ? 'launch' : 'terminate' },
      };
    }
    default:
      problems.push(`detail-type: expected one of ${Object.values(DetailTypes).map((t) => `"${t}"`).join(', ')}, got ${show(type)}`);
      return fail();
  }
}


function instanceIdAt(detail: Record<string, unknown>, key: string, problems: string[]): string | undefined {
  const v = detail[key];
  if (typeof v === 'string' && INSTANCE_ID.test(v)) return v;
  problems.push(`detail.${key}: not an instance ID: ${show(v)}`);
  return undefined;
}

/**
 * A tag change on an instance. `tags` is the instance's full tag set after the change; a key in
 * `changed` but absent from `tags` was deleted.
 *   - the opt-out key was set to its value: leave when leaveOnOptOut, else nothing (recorded);
 *   - the opt-in key was set to its value (added or re-set): join (the join re-reads the tags and
 *     honours an opt-out still present);
 *   - anything else (a deleted key, another value, other keys): nothing.
 */
export function tagChangeDecision(changed: readonly string[], tags: Record<string, string>, t: Settings['tags']): { action: EntryAction; reason: string } {
  if (changed.includes(t.optOut.key) && isOptedOut(tags, t)) {
    return t.leaveOnOptOut === true
      ? { action: 'leave', reason: `tag ${t.optOut.key}=${t.optOut.value} was set and tags.leaveOnOptOut is on: leave the directory` }
      : { action: 'none', reason: `tag ${t.optOut.key}=${t.optOut.value} was set; tags.leaveOnOptOut is off, so the instance stays joined (recorded only)` };
  }
  if (changed.includes(t.optIn.key) && isOptedIn(tags, t)) {
    return { action: 'join', reason: `tag ${t.optIn.key}=${t.optIn.value} was set` };
  }
  return { action: 'none', reason: `no opt-in or opt-out tag was set (changed: ${changed.slice(0, 10).map((k) => show(k)).join(', ')})` };
}
