/**
 * Auto Scaling groups with lifecycle hooks for the lab world. The lab has real instances (EC2's
 * part: LabFleet) but no Auto Scaling: the groups, their hooks and their lifecycle actions are
 * the simulated ones of lab/sim (SimFleet: Pending:Wait until CONTINUE → InService, ABANDON →
 * terminated, heartbeat timeout → default result, Terminating:Wait), mirrored onto the lab
 * instance: an ABANDON terminates the REAL lab instance.
 *
 * In one process (a lab test):
 *   const asg = new LabAutoScaling({ name: 'lab-web', hooks: { launch: 'adjoin-join', terminate: 'adjoin-leave' } });
 *   const action = asg.launched(instanceId);          // the instance waits in Pending:Wait
 *   const fleet = asg.fleet(new LabFleet());          // the Fleet the tasks get
 *
 * Across processes (the CLI: `adjoin lab launch --asg NAME` in one, the join's answer in another,
 * `adjoin lab status` in a third): `LabAutoScaling.inLab()` keeps a JOURNAL in the lab's state
 * directory (autoscaling.json, removed by down()): every change (group, launch, scale-in,
 * accepted answer, heartbeat) with its wall-clock time. Each process replays the journal into a
 * fresh SimFleet, at the recorded times, so the sim's own rules (tokens, deadlines, timeouts)
 * decide, not a copy of them; a change is read-replay-apply-append under a lock file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimFleet, type SimGroupSpec, type SimLifecycleAction } from '../sim/fleet';
import type { Fleet, InstanceInfo, LifecycleActionRef, LifecycleResult } from '../../tasks/lib/ports';
import { LAB_ACCOUNT, LAB_REGION, labPaths } from './paths';
import { terminate } from './index';
import { withLockFile } from './state';

type Change =
  | { op: 'group'; at: number; spec: SimGroupSpec }
  | { op: 'launch'; at: number; group: string; instanceId: string }
  | { op: 'scale-in'; at: number; instanceId: string }
  | { op: 'complete'; at: number; ref: LifecycleActionRef; result: LifecycleResult }
  | { op: 'heartbeat'; at: number; ref: LifecycleActionRef };

export class LabAutoScaling {
  private groups!: SimFleet;
  private at: number | undefined; // replay time; undefined: now
  private readonly group: string | undefined;
  /** Lab instances terminated because their launch was abandoned (by this process). */
  readonly terminated: string[] = [];

  constructor(spec?: SimGroupSpec, private readonly journal?: string) {
    this.reset();
    this.group = spec?.name;
    if (spec) this.addGroup(spec);
  }

  /** The lab's groups, shared by every process through the journal in the lab's state directory. */
  static inLab(root: string = labPaths().root): LabAutoScaling {
    return new LabAutoScaling(undefined, path.join(root, 'autoscaling.json'));
  }

  /** Adds a group (a group of that name already there: left as it is). */
  addGroup(spec: SimGroupSpec): void {
    this.change({ op: 'group', at: Date.now(), spec }, () => {
      const known = this.changes().some((c) => c.op === 'group' && c.spec.name === spec.name);
      if (!known) this.groups.addAutoScalingGroup(spec);
      return !known;
    }, (added) => added);
  }

  groupNames(): string[] {
    this.load();
    return this.changes().flatMap((c) => (c.op === 'group' ? [c.spec.name] : []));
  }

  /** A lab instance launched into the group: with a launch hook it waits in Pending:Wait; the action is returned. */
  launched(instanceId: string, group = this.group): SimLifecycleAction | undefined {
    if (group === undefined) throw new Error('launched: name the group');
    return this.change({ op: 'launch', at: Date.now(), group, instanceId }, () => this.groups.launchInGroup(group, { instanceId }).action);
  }

  /** The group scales the instance in: with a terminate hook it waits in Terminating:Wait. */
  scaleIn(instanceId: string): SimLifecycleAction | undefined {
    return this.change({ op: 'scale-in', at: Date.now(), instanceId }, () => this.groups.scaleIn(instanceId));
  }

  lifecycleState(instanceId: string): string | undefined {
    this.load();
    return this.groups.instance(instanceId)?.lifecycleState;
  }

  /** The group of an instance, and its lifecycle state (timeouts applied now), for `adjoin lab status`. */
  membership(instanceId: string): { group: string; lifecycleState: string } | undefined {
    this.load();
    this.groups.pendingLifecycleActions(); // applies the timeouts due now
    const i = this.groups.instance(instanceId);
    return i?.group !== undefined && i.lifecycleState !== undefined ? { group: i.group, lifecycleState: i.lifecycleState } : undefined;
  }

  /** Every lifecycle action of the groups, answered or not, oldest first. */
  get actions(): readonly SimLifecycleAction[] {
    this.load();
    return this.groups.lifecycleActions;
  }

  /** `fleet` with Auto Scaling's part answered by these groups (lifecycle actions, lifecycle state). */
  fleet(fleet: Fleet): Fleet {
    const overrides: Partial<Fleet> = {
      describeInstance: async (id: string, options?: { autoScaling?: boolean }): Promise<InstanceInfo | undefined> => {
        const info = await fleet.describeInstance(id, options);
        const state = options?.autoScaling ? this.lifecycleState(id) : undefined;
        return info && state !== undefined ? { ...info, lifecycleState: state } : info;
      },
      completeLifecycleAction: async (ref: LifecycleActionRef, result: LifecycleResult): Promise<boolean> => {
        const accepted = this.change({ op: 'complete', at: Date.now(), ref, result }, () => this.groups.answerLifecycleAction(ref, result), (ok) => ok);
        if (this.lifecycleState(ref.instanceId) === 'Terminated') await this.terminateReal(ref.instanceId);
        return Promise.resolve(accepted);
      },
      recordLifecycleHeartbeat: (ref: LifecycleActionRef) =>
        Promise.resolve(this.change({ op: 'heartbeat', at: Date.now(), ref }, () => this.groups.heartbeatLifecycleAction(ref), (ok) => ok)),
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

  // ---- the journal ------------------------------------------------------------------------

  private reset(): void {
    this.groups = new SimFleet({ clock: { now: () => new Date(this.at ?? Date.now()) }, account: LAB_ACCOUNT, region: LAB_REGION });
  }

  private changes(): Change[] {
    if (this.journal === undefined) return this.memory;
    try {
      return JSON.parse(fs.readFileSync(this.journal, 'utf8')) as Change[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private readonly memory: Change[] = [];

  /** Replays the journal into a fresh sim (in one process: nothing to do, the sim is current). */
  private load(): void {
    if (this.journal === undefined) return;
    this.reset();
    for (const c of this.changes()) {
      this.at = c.at;
      try {
        this.apply(c);
      } finally {
        this.at = undefined;
      }
    }
  }

  private apply(c: Change): unknown {
    switch (c.op) {
      case 'group':
        return this.groups.addAutoScalingGroup(c.spec);
      case 'launch':
        return this.groups.launchInGroup(c.group, { instanceId: c.instanceId });
      case 'scale-in':
        return this.groups.scaleIn(c.instanceId);
      case 'complete':
        return this.groups.answerLifecycleAction(c.ref, c.result);
      case 'heartbeat':
        return this.groups.heartbeatLifecycleAction(c.ref);
    }
  }

  private record(c: Change): void {
    if (this.journal === undefined) {
      this.memory.push(c);
      return;
    }
    const all = [...this.changes(), c];
    fs.mkdirSync(path.dirname(this.journal), { recursive: true, mode: 0o700 });
    const tmp = `${this.journal}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all), { mode: 0o600 });
    fs.renameSync(tmp, this.journal);
  }

  /** Read, replay, apply, append (under the journal's lock); `keep` false: nothing recorded (a refused answer). */
  private change<T>(c: Change, fn: () => T, keep: (out: T) => boolean = () => true): T {
    const run = (): T => {
      this.load();
      const out = fn();
      if (keep(out)) this.record(c);
      return out;
    };
    return this.journal === undefined ? run() : withLockFile(`${this.journal}.lock`, run);
  }
}
