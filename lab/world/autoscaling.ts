/**
 * Auto Scaling groups with lifecycle hooks for the lab world. The lab has real instances (EC2's
 * part: LabFleet) but no Auto Scaling: the group, its hooks and its lifecycle actions are the
 * simulated ones of lab/sim (SimFleet: Pending:Wait until CONTINUE → InService, ABANDON →
 * terminated, heartbeat timeout → default result, Terminating:Wait), mirrored onto the lab
 * instance: an ABANDON (or an ABANDON by timeout) terminates the REAL lab instance.
 *
 *   const asg = new LabAutoScaling({ name: 'lab-web', hooks: { launch: 'adjoin-join', terminate: 'adjoin-leave' } });
 *   const action = asg.launched(instanceId);          // the instance waits in Pending:Wait
 *   const fleet = asg.fleet(new LabFleet());          // the Fleet the tasks get
 */
import { SimFleet, type SimGroupSpec, type SimLifecycleAction } from '../sim/fleet';
import type { Fleet, InstanceInfo, LifecycleActionRef, LifecycleResult } from '../../tasks/lib/ports';
import { LAB_ACCOUNT, LAB_REGION } from './paths';
import { terminate } from './index';

const wallClock = { now: (): Date => new Date() };

export class LabAutoScaling {
  private readonly groups = new SimFleet({ clock: wallClock, account: LAB_ACCOUNT, region: LAB_REGION });
  private readonly group: string;
  /** Lab instances terminated because their launch was abandoned. */
  readonly terminated: string[] = [];

  constructor(spec: SimGroupSpec) {
    this.group = spec.name;
    this.groups.addAutoScalingGroup(spec);
  }

  /** A lab instance launched into the group: with a launch hook it waits in Pending:Wait; the action is returned. */
  launched(instanceId: string): SimLifecycleAction | undefined {
    return this.groups.launchInGroup(this.group, { instanceId }).action;
  }

  /** The group scales the instance in: with a terminate hook it waits in Terminating:Wait. */
  scaleIn(instanceId: string): SimLifecycleAction | undefined {
    return this.groups.scaleIn(instanceId);
  }

  lifecycleState(instanceId: string): string | undefined {
    return this.groups.instance(instanceId)?.lifecycleState;
  }

  /** Every lifecycle action of the group, answered or not, oldest first. */
  get actions(): readonly SimLifecycleAction[] {
    return this.groups.lifecycleActions;
  }

  /** `fleet` with Auto Scaling's part answered by this group (lifecycle actions, lifecycle state). */
  fleet(fleet: Fleet): Fleet {
    const asg = this.groups.fleetFor({ account: LAB_ACCOUNT, region: LAB_REGION });
    const overrides: Partial<Fleet> = {
      describeInstance: async (id: string, options?: { autoScaling?: boolean }): Promise<InstanceInfo | undefined> => {
        const info = await fleet.describeInstance(id, options);
        const state = this.lifecycleState(id);
        return info && options?.autoScaling && state !== undefined ? { ...info, lifecycleState: state } : info;
      },
      completeLifecycleAction: async (ref: LifecycleActionRef, result: LifecycleResult): Promise<boolean> => {
        const accepted = await asg.completeLifecycleAction(ref, result);
        if (this.lifecycleState(ref.instanceId) === 'Terminated') await this.terminateReal(ref.instanceId);
        return accepted;
      },
      recordLifecycleHeartbeat: (ref: LifecycleActionRef) => asg.recordLifecycleHeartbeat(ref),
    };
    return new Proxy(fleet, {
      get(target, key, receiver) {
        const own = overrides[key as keyof Fleet];
        if (own !== undefined) return own;
        const v: unknown = Reflect.get(target, key, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  private async terminateReal(instanceId: string): Promise<void> {
    if (this.terminated.includes(instanceId)) return;
    this.terminated.push(instanceId);
    await terminate(instanceId);
  }
}
