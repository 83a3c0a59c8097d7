import { parseEntry, tagChangeDecision } from '../../../../tasks/lib/entry';
import { InvalidInput } from '../../../../tasks/lib/errors';
import { ACCOUNT, INSTANCE, REGION, testSettings } from '../../../fakes';

const settings = testSettings();
const ARN = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${INSTANCE}`;
const TOKEN = '87654321-4321-4321-4321-210987654321';

const stateEvent = (state: string): Record<string, unknown> => ({
  version: '0', id: '7bf73129-1428-4cd3-a780-95db273d1602', 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2',
  account: ACCOUNT, time: '2026-11-21T10:00:00Z', region: REGION, resources: [ARN], detail: { 'instance-id': INSTANCE, state },
});
/** "Tag Change on Resource" as EventBridge delivers it (tags: the full set after the change). */
const tagEvent = (changed: unknown[], tags: Record<string, unknown>, resources: unknown[] = [ARN]): Record<string, unknown> => ({
  version: '0', id: 'bddcf1d6-0251-35a1-aab0-adc1fb47c11c', 'detail-type': 'Tag Change on Resource', source: 'aws.tag',
  account: ACCOUNT, time: '2026-11-21T10:00:00Z', region: REGION, resources,
  detail: { 'changed-tag-keys': changed, service: 'ec2', 'resource-type': 'instance', version: 3, tags },
});
const lifecycleEvent = (kind: 'launch' | 'terminate', detail: Record<string, unknown> = {}): Record<string, unknown> => ({
  version: '0', id: '12345678-1234-1234-1234-123456789012',
  'detail-type': kind === 'launch' ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
  source: 'aws.autoscaling', account: ACCOUNT, time: '2026-11-21T10:00:00Z', region: REGION,
  resources: [`arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:1b2c3d4e-0000-0000-0000-000000000000:autoScalingGroupName/web`],
  detail: {
    LifecycleActionToken: TOKEN, AutoScalingGroupName: 'web', LifecycleHookName: 'adjoin-launch', EC2InstanceId: INSTANCE,
    LifecycleTransition: kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
    NotificationMetadata: 'x', Origin: 'EC2', Destination: 'AutoScalingGroup', ...detail,
  },
});
const where = { instanceId: INSTANCE, account: ACCOUNT, region: REGION };

describe('parseEntry: EC2 state change (and the CLI, which sends the same event)', () => {
  it('running → join, terminated → leave, other states → nothing', () => {
    // Prepare / Act / Assess
    expect(parseEntry(stateEvent('running'), settings)).toEqual({ ...where, trigger: 'instance-running', action: 'join', reason: 'the instance is running' });
    expect(parseEntry(stateEvent('terminated'), settings)).toMatchObject({ trigger: 'instance-terminated', action: 'leave' });
    expect(parseEntry(stateEvent('stopped'), settings)).toMatchObject({ trigger: 'instance-state', action: 'none' });
  });

  it('refuses a hostile instance ID, account or source, naming each field', () => {
    // Prepare
    const bad = { ...stateEvent('running'), source: 'evil', account: '12', detail: { 'instance-id': 'i-1; rm -rf /', state: 'running' } };
    // Act / Assess
    expect(() => parseEntry(bad, settings)).toThrow(InvalidInput);
    expect(() => parseEntry(bad, settings)).toThrow(/account: not a 12-digit.*source: expected aws\.ec2.*detail\.instance-id: not an instance ID/);
  });
});

describe('parseEntry: tag change on an EC2 instance', () => {
  it('joins when the opt-in tag is added with its value', () => {
    // Act
    const entry = parseEntry(tagEvent(['Domain:Join'], { 'Domain:Join': 'true', Name: 'web' }), settings);
    // Assess
    expect(entry).toEqual({ ...where, trigger: 'tag-change', action: 'join', reason: 'tag Domain:Join=true was set' });
  });

  it('does nothing for a deleted opt-in, another value, or unrelated keys', () => {
    // Act / Assess
    expect(parseEntry(tagEvent(['Domain:Join'], { Name: 'web' }), settings).action).toBe('none');
    expect(parseEntry(tagEvent(['Domain:Join'], { 'Domain:Join': 'false' }), settings).action).toBe('none');
    expect(parseEntry(tagEvent(['Name'], { 'Domain:Join': 'true', Name: 'web' }), settings).action).toBe('none');
  });

  it('records an opt-out and does nothing, unless tags.leaveOnOptOut is on', () => {
    // Prepare
    const event = tagEvent(['autoadjoin'], { 'Domain:Join': 'true', autoadjoin: 'false' });
    const leaving = { ...settings, tags: { ...settings.tags, leaveOnOptOut: true } };
    // Act
    const off = parseEntry(event, settings);
    const on = parseEntry(event, leaving);
    // Assess
    expect(off).toMatchObject({ action: 'none', reason: expect.stringMatching(/leaveOnOptOut is off/) as string });
    expect(on).toMatchObject({ action: 'leave', trigger: 'tag-change' });
  });

  it('lets an opt-out set together with the opt-in win (no join)', () => {
    // Act / Assess
    expect(tagChangeDecision(['Domain:Join', 'autoadjoin'], { 'Domain:Join': 'true', autoadjoin: 'false' }, settings.tags).action).toBe('none');
  });

  it('refuses a resource that is not an instance of the event account and Region', () => {
    // Prepare
    const other = tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }, [`arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${INSTANCE}`]);
    const volume = tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }, [`arn:aws:ec2:${REGION}:${ACCOUNT}:volume/vol-0123456789abcdef0`]);
    // Act / Assess
    expect(() => parseEntry(other, settings)).toThrow(/resources\[0\]: .* not in the event's account and Region/);
    expect(() => parseEntry(volume, settings)).toThrow(/resources\[0\]: not an EC2 instance ARN/);
  });

  it('refuses malformed tag details, naming the field', () => {
    // Prepare
    const event = tagEvent(['Domain:Join', 7], { 'Domain:Join': { $ne: 1 } });
    (event.detail as Record<string, unknown>)['resource-type'] = 'volume';
    // Act / Assess
    expect(() => parseEntry(event, settings)).toThrow(/detail\.resource-type: expected instance.*detail\.changed-tag-keys: must be a list of strings.*detail\.tags: must be an object of string values/);
  });
});

describe('parseEntry: Auto Scaling lifecycle actions', () => {
  it('reads a launch action: join, with the action to complete', () => {
    // Act
    const entry = parseEntry(lifecycleEvent('launch'), settings);
    // Assess
    expect(entry).toEqual({
      ...where,
      trigger: 'lifecycle-launch',
      action: 'join',
      reason: 'Auto Scaling group web is launching the instance (hook adjoin-launch)',
      lifecycle: { autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-launch', lifecycleActionToken: TOKEN, transition: 'launch' },
    });
  });

  it('reads a terminate action: leave', () => {
    // Act / Assess
    expect(parseEntry(lifecycleEvent('terminate'), settings)).toMatchObject({ trigger: 'lifecycle-terminate', action: 'leave', lifecycle: { transition: 'terminate' } });
  });

  it('refuses a transition that does not match the detail-type, and hostile names', () => {
    // Prepare
    const swapped = lifecycleEvent('launch', { LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
    const hostile = lifecycleEvent('terminate', { LifecycleHookName: 'x"; drop', LifecycleActionToken: 'not-a-token', EC2InstanceId: 'i-XYZ' });
    // Act / Assess
    expect(() => parseEntry(swapped, settings)).toThrow(/detail\.LifecycleTransition: expected autoscaling:EC2_INSTANCE_LAUNCHING/);
    expect(() => parseEntry(hostile, settings)).toThrow(/detail\.EC2InstanceId.*detail\.LifecycleHookName.*detail\.LifecycleActionToken/);
  });
});

describe('parseEntry: anything else', () => {
  it('refuses unknown detail-types and non-objects', () => {
    // Act / Assess
    expect(() => parseEntry({ ...stateEvent('running'), 'detail-type': 'Spot Instance Interruption Warning' }, settings)).toThrow(/detail-type: expected one of/);
    expect(() => parseEntry('running', settings)).toThrow(/event: must be an EventBridge event object/);
    expect(() => parseEntry({ ...stateEvent('running'), detail: null }, settings)).toThrow(/detail: missing/);
  });
});
