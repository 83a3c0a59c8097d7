/**
 * The lab's Auto Scaling groups across processes (lab/world/autoscaling.ts LabAutoScaling.inLab):
 * every reader replays the journal in the lab state directory, so `lab launch --asg` in one
 * process, the join's CompleteLifecycleAction in another and `lab status` in a third agree.
 * Each "process" here is a fresh LabAutoScaling over the same directory (no state shared in memory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lifecycleLaunchEvent } from '../../../cli/ec2-event';
import { LabAutoScaling } from '../../../lab/world/autoscaling';
import { LAB_ACCOUNT, LAB_REGION } from '../../../lab/world/paths';
import { parseEntry } from '../../../tasks/lib/entry';
import type { Fleet, InstanceInfo } from '../../../tasks/lib/ports';

const ID = 'i-0123456789abcdef0';
const HOOKS = { launch: 'adjoin-join', terminate: 'adjoin-leave' };
let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-asg-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The EC2 part a lab process has (a running instance); Auto Scaling's part comes from the journal. */
const ec2 = { describeInstance: (id: string): Promise<InstanceInfo> => Promise.resolve({ instanceId: id, state: 'running', platform: 'linux', tags: {} } as InstanceInfo) } as unknown as Fleet;

describe('LabAutoScaling.inLab: a journal every process replays', () => {
  test('launch in one process → Pending:Wait everywhere; CONTINUE answered in another → InService for a third', async () => {
    const cli = LabAutoScaling.inLab(dir);
    cli.addGroup({ name: 'web', hooks: HOOKS, heartbeatTimeoutSeconds: 600, defaultResult: 'ABANDON' });
    const action = cli.launched(ID, 'web');
    expect(action).toMatchObject({ autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-join', transition: 'launch' });

    const runtime = LabAutoScaling.inLab(dir).fleet(ec2);
    expect(await runtime.describeInstance(ID, { autoScaling: true })).toMatchObject({ lifecycleState: 'Pending:Wait' });
    expect(await runtime.describeInstance(ID)).not.toHaveProperty('lifecycleState'); // only when asked, as AWS
    const ref = { autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-join', lifecycleActionToken: action!.lifecycleActionToken, instanceId: ID };
    expect(await runtime.recordLifecycleHeartbeat(ref)).toBe(true);
    expect(await runtime.completeLifecycleAction({ ...ref, lifecycleActionToken: '99999999-2222-4333-8444-000000000001' }, 'CONTINUE')).toBe(false); // wrong token
    expect(LabAutoScaling.inLab(dir).membership(ID)).toEqual({ group: 'web', lifecycleState: 'Pending:Wait' });
    expect(await runtime.completeLifecycleAction(ref, 'CONTINUE')).toBe(true);
    expect(await runtime.completeLifecycleAction(ref, 'CONTINUE')).toBe(false); // answered already

    const status = LabAutoScaling.inLab(dir);
    expect(status.membership(ID)).toEqual({ group: 'web', lifecycleState: 'InService' });
    expect(status.actions.map((a) => a.answer)).toEqual(['CONTINUE']);
  });

  test('a second addGroup of the same name keeps the first; the default result applies when the hook times out', async () => {
    const a = LabAutoScaling.inLab(dir);
    a.addGroup({ name: 'web', hooks: HOOKS, heartbeatTimeoutSeconds: 0.05, defaultResult: 'ABANDON' });
    LabAutoScaling.inLab(dir).addGroup({ name: 'web', hooks: HOOKS, heartbeatTimeoutSeconds: 3600, defaultResult: 'CONTINUE' });
    a.launched(ID, 'web');
    await new Promise((r) => setTimeout(r, 120));
    expect(LabAutoScaling.inLab(dir).membership(ID)).toEqual({ group: 'web', lifecycleState: 'Terminated' });
    expect(LabAutoScaling.inLab(dir).groupNames()).toEqual(['web']);
  });

  test('an unknown group is refused (as AWS refuses it)', async () => {
    const fleet = LabAutoScaling.inLab(dir).fleet(ec2);
    await expect(fleet.completeLifecycleAction({ autoScalingGroupName: 'nope', lifecycleHookName: 'adjoin-join', lifecycleActionToken: '11111111-2222-4333-8444-000000000001', instanceId: ID }, 'CONTINUE')).rejects.toThrow(/Group nope not found/);
    expect(() => LabAutoScaling.inLab(dir).launched(ID, 'nope')).toThrow(/no Auto Scaling group nope/);
  });

  test('the CLI\'s launch event is the one the join reads (parseEntry: a launch hook join)', () => {
    const g = LabAutoScaling.inLab(dir);
    g.addGroup({ name: 'web', hooks: HOOKS, heartbeatTimeoutSeconds: 600, defaultResult: 'ABANDON' });
    const action = g.launched(ID, 'web')!;
    const event = lifecycleLaunchEvent({ instanceId: ID, account: LAB_ACCOUNT, region: LAB_REGION, action });
    const entry = parseEntry(event, { tags: { optIn: { key: 'Domain:Join', value: 'true' }, optOut: { key: 'autoadjoin', value: 'false' }, statusPrefix: 'adjoin:', loginGroupKey: 'adGroupName' } });
    expect(entry).toMatchObject({ instanceId: ID, trigger: 'lifecycle-launch', action: 'join', lifecycle: { autoScalingGroupName: 'web', lifecycleHookName: 'adjoin-join', lifecycleActionToken: action.lifecycleActionToken, transition: 'launch' } });
  });
});
