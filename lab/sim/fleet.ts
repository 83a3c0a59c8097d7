/**
 * EC2 + SSM in memory, on a (virtual) clock: instances with state and tags, an SSM agent that
 * comes Online some seconds after launch (or never), Run Command commands that finish after a
 * given duration with a given output, join secrets in a Parameter Store. Failure injection:
 * an operation failing N times, throttling (a token bucket per operation in virtual time), hooks
 * that run before an operation (terminate the instance mid-join), a real-time latency model
 * for scale runs, and EC2's tag read-after-write lag (tagVisibleAfterSeconds).
 *
 * By default the "agent" behaves like the real join document: the join succeeds only when the
 * computer account exists in the SimDirectory and the SecureString parameter holds its current
 * one-time password (then it rotates the password, as adcli does); verification succeeds only
 * on a joined instance. Tests can script other outcomes per document.
 *
 * Auto Scaling groups with lifecycle hooks: an instance launched into a group with a launch hook
 * is running in EC2 but waits in Pending:Wait until the hook is answered (CONTINUE → InService,
 * ABANDON → terminated) or its heartbeat timeout passes (the hook's default result is taken);
 * scaling in through a terminate hook waits in Terminating:Wait, then terminates either way.
 */
import type {
  Clock,
  CommandResult,
  CommandStatus,
  Fleet,
  FleetFor,
  InstanceInfo,
  InstanceState,
  LifecycleActionRef,
  LifecycleResult,
  PingStatus,
  SendCommandRequest,
} from '../../tasks/lib/ports';
import { AwsRefused, Throttled } from '../../tasks/lib/errors';
import { JOIN_SECRET_PATH, joinSecretName } from '../../tasks/lib/naming';
import type { SimDirectory } from './directory';
import { runWindowsJoin, WINDOWS_REBOOT_SECONDS, WINDOWS_RUN_SECONDS, type WindowsTraits } from './windows-agent';

export type FleetOp = keyof Fleet;

export interface SimInstanceSpec {
  instanceId: string;
  account?: string;
  region?: string;
  state?: InstanceState;
  platform?: 'linux' | 'windows';
  tags?: Record<string, string>;
  privateDnsName?: string;
  launchTime?: Date;
  /** Seconds after launch the SSM agent is Online (default 0; Infinity = never). */
  ssmOnlineAfterSeconds?: number;
  /** A Windows instance's behaviour under the Windows join document (lab/sim/windows-agent.ts). */
  windows?: WindowsTraits;
}

export interface SimInstance {
  instanceId: string;
  account: string;
  region: string;
  state: InstanceState;
  platform: 'linux' | 'windows';
  tags: Record<string, string>;
  privateDnsName?: string;
  launchTime: Date;
  ssmOnlineAfterSeconds: number;
  /** Set by the agent when a join command succeeded. */
  joinedAs?: string;
  windows?: WindowsTraits;
  /**
   * Windows: the machine's own (local) password, as the simulated Windows agent set it
   * (undefined: joined outside the model, e.g. a test setting joinedAs; its secure channel is
   * then the traits' word), and whether it was changed since the join (the document's
   * "PasswordRetired" registry state).
   */
  machinePassword?: string;
  passwordRetired?: boolean;
  /** The agent is away (a reboot the Windows join asked for): ping ConnectionLost, commands Delayed. */
  offline?: { fromMs: number; toMs: number };
  /** Tag writes DescribeInstances does not show yet (tagVisibleAfterSeconds), oldest first. */
  pendingTags?: { visibleAtMs: number; tags: Record<string, string> }[];
  /** Set for instances of an Auto Scaling group. */
  group?: string;
  lifecycleState?: LifecycleState;
}

export type LifecycleState = 'Pending:Wait' | 'InService' | 'Terminating:Wait' | 'Terminated';

export interface SimGroupSpec {
  name: string;
  account?: string;
  region?: string;
  /** Lifecycle hook names (absent: no hook for that transition). */
  hooks?: { launch?: string; terminate?: string };
  /** Seconds a pending action waits for an answer or a heartbeat (AWS default 3600). */
  heartbeatTimeoutSeconds?: number;
  /** Taken when the timeout passes (AWS default ABANDON). */
  defaultResult?: LifecycleResult;
}

/** A lifecycle action waiting for its answer. */
export interface SimLifecycleAction extends LifecycleActionRef {
  transition: 'launch' | 'terminate';
  deadlineMs: number;
  /** How it ended (absent while pending). */
  answer?: LifecycleResult | 'timeout';
}

/** How a command ends. */
export interface CommandScript {
  /** Virtual seconds from send to the final status (default 20 for join, 3 for verify). */
  durationSeconds?: number;
  /** Windows: the agent reboots the instance after this many seconds (exit 3010) and is away for rebootSeconds. */
  rebootAfterSeconds?: number;
  rebootSeconds?: number;
  status?: Extract<CommandStatus, 'Success' | 'Failed' | 'TimedOut' | 'Cancelled'>;
  exitCode?: number;
  stdout?: string;
  stderr?: string;
}

export interface SimCommand {
  commandId: string;
  request: SendCommandRequest;
  sentAtMs: number;
  doneAtMs: number;
  final: CommandResult;
}

export interface SimFleetOptions {
  clock: Clock;
  /** Lets the default agent check joins against the directory. */
  directory?: SimDirectory;
  account?: string;
  region?: string;
  /** Parameter path of join secrets, as the AWS adapter takes it (default /adjoin/otp/). */
  secretPath?: string;
  /** Real milliseconds each call takes (scale runs), by operation. */
  latencyMs?: (op: FleetOp) => number;
  /** EC2's eventual consistency: seconds after CreateTags before DescribeInstances shows the
   *  tags (drawn per write; default 0, visible at once). */
  tagVisibleAfterSeconds?: () => number;
  /** Seconds the default agent takes for a command (default 20 for join, 3 for verify). */
  commandSeconds?: (request: SendCommandRequest) => number;
}

export interface ThrottleModel {
  /** Calls per virtual second, refilled continuously. */
  ratePerSecond: number;
  /** Bucket size (calls allowed at once). */
  burst: number;
}

interface Injection {
  op: FleetOp | '*';
  remaining: number;
  error: () => Error;
}

interface Hook {
  op: FleetOp;
  remaining: number;
  run: (arg: string, fleet: SimFleet) => void;
}

const DEFAULT_DURATION: Record<SendCommandRequest['document'], number> = { join: 20, verify: 3, joinWindows: WINDOWS_RUN_SECONDS.first + WINDOWS_REBOOT_SECONDS + WINDOWS_RUN_SECONDS.second };
const SECURE = /^\{\{ssm-secure:([^}]+)\}\}$/;

export class SimFleet {
  readonly account: string;
  readonly region: string;
  private readonly secretPath: string;
  private readonly clock: Clock;
  private readonly directory: SimDirectory | undefined;
  /** Other directories by DNS domain (routing: the join document names its domain). */
  private readonly directoriesByDomain = new Map<string, SimDirectory>();
  private readonly instances = new Map<string, SimInstance>();
  private readonly commands = new Map<string, SimCommand>();
  private readonly parameters = new Map<string, string>();
  /** When each parameter was last written (virtual time), as SSM's LastModifiedDate. */
  private readonly modified = new Map<string, Date>();
  /** The account/Region each parameter lives in (a Parameter Store is per account and Region). */
  private readonly parameterHome = new Map<string, string>();
  private readonly scripts: Record<SendCommandRequest['document'], CommandScript[]> = { join: [], verify: [], joinWindows: [] };
  private readonly injections: Injection[] = [];
  private readonly hooks: Hook[] = [];
  private readonly buckets = new Map<FleetOp | '*', ThrottleModel & { tokens: number; atMs: number }>();
  private readonly latencyMs: ((op: FleetOp) => number) | undefined;
  private readonly tagLag: (() => number) | undefined;
  private readonly commandSeconds: ((request: SendCommandRequest) => number) | undefined;
  private nextCommand = 1;
  private readonly groups = new Map<string, Required<Omit<SimGroupSpec, 'hooks'>> & { hooks: SimGroupSpec['hooks'] }>();
  /** Every lifecycle action, pending or answered, oldest first. */
  readonly lifecycleActions: SimLifecycleAction[] = [];
  /** Every call (throttled ones too), in order: operation, instance (or command) id, when. */
  readonly calls: { op: FleetOp; arg: string; atMs: number; throttled?: true }[] = [];
  /** How many calls were throttled, by operation. */
  readonly throttled = new Map<FleetOp, number>();

  constructor(options: SimFleetOptions) {
    this.clock = options.clock;
    this.directory = options.directory;
    this.account = options.account ?? '123456789012';
    this.region = options.region ?? 'eu-west-1';
    this.secretPath = options.secretPath ?? JOIN_SECRET_PATH;
    this.latencyMs = options.latencyMs;
    this.tagLag = options.tagVisibleAfterSeconds;
    this.commandSeconds = options.commandSeconds;
  }

  // ---- world controls ---------------------------------------------------------------------

  addInstance(spec: SimInstanceSpec): SimInstance {
    const inst: SimInstance = {
      instanceId: spec.instanceId,
      account: spec.account ?? this.account,
      region: spec.region ?? this.region,
      state: spec.state ?? 'running',
      platform: spec.platform ?? 'linux',
      tags: { ...(spec.tags ?? {}) },
      launchTime: spec.launchTime ?? this.clock.now(),
      ssmOnlineAfterSeconds: spec.ssmOnlineAfterSeconds ?? 0,
      ...(spec.privateDnsName !== undefined ? { privateDnsName: spec.privateDnsName } : {}),
      ...(spec.windows !== undefined ? { windows: spec.windows } : {}),
    };
    this.instances.set(spec.instanceId, inst);
    return inst;
  }

  /** The live instance record (mutable: tests may change state or tags). */
  instance(instanceId: string): SimInstance | undefined {
    return this.instances.get(instanceId);
  }

  terminate(instanceId: string): void {
    const i = this.instances.get(instanceId);
    if (i) i.state = 'terminated';
  }

  /** An Auto Scaling group (with its hooks) in this fleet's account and Region by default. */
  addAutoScalingGroup(spec: SimGroupSpec): this {
    this.groups.set(spec.name, {
      name: spec.name,
      account: spec.account ?? this.account,
      region: spec.region ?? this.region,
      hooks: spec.hooks,
      heartbeatTimeoutSeconds: spec.heartbeatTimeoutSeconds ?? 3600,
      defaultResult: spec.defaultResult ?? 'ABANDON',
    });
    return this;
  }

  /** The group launches an instance: with a launch hook it waits in Pending:Wait, and the action is returned. */
  launchInGroup(group: string, spec: SimInstanceSpec): { instance: SimInstance; action?: SimLifecycleAction } {
    const g = this.groups.get(group);
    if (!g) throw new Error(`no Auto Scaling group ${group}`);
    const instance = this.addInstance({ ...spec, account: g.account, region: g.region, state: 'running' });
    instance.group = group;
    if (!g.hooks?.launch) {
      instance.lifecycleState = 'InService';
      return { instance };
    }
    instance.lifecycleState = 'Pending:Wait';
    return { instance, action: this.startAction(g, g.hooks.launch, instance.instanceId, 'launch') };
  }

  /** The group scales in: with a terminate hook the instance waits in Terminating:Wait, else it terminates now. */
  scaleIn(instanceId: string): SimLifecycleAction | undefined {
    const i = this.instances.get(instanceId);
    const g = i?.group !== undefined ? this.groups.get(i.group) : undefined;
    if (!i || !g) throw new Error(`${instanceId} is not in an Auto Scaling group`);
    if (!g.hooks?.terminate) {
      this.endInstance(i);
      return undefined;
    }
    i.lifecycleState = 'Terminating:Wait';
    return this.startAction(g, g.hooks.terminate, instanceId, 'terminate');
  }

  /** Lifecycle actions still waiting for an answer (after applying timeouts at the current time). */
  pendingLifecycleActions(): SimLifecycleAction[] {
    this.expireLifecycleActions();
    return this.lifecycleActions.filter((a) => a.answer === undefined);
  }

  private startAction(g: { name: string; heartbeatTimeoutSeconds: number }, hook: string, instanceId: string, transition: 'launch' | 'terminate'): SimLifecycleAction {
    const n = this.lifecycleActions.length + 1;
    const action: SimLifecycleAction = {
      autoScalingGroupName: g.name,
      lifecycleHookName: hook,
      lifecycleActionToken: `11111111-2222-4333-8444-${String(n).padStart(12, '0')}`,
      instanceId,
      transition,
      deadlineMs: this.clock.now().getTime() + g.heartbeatTimeoutSeconds * 1000,
    };
    this.lifecycleActions.push(action);
    return action;
  }

  private endInstance(i: SimInstance): void {
    i.state = 'terminated';
    i.lifecycleState = 'Terminated';
  }

  /** Applies an answer (or the default result) to a pending action. */
  private settleAction(a: SimLifecycleAction, result: LifecycleResult, answer: LifecycleResult | 'timeout'): void {
    a.answer = answer;
    const i = this.instances.get(a.instanceId);
    if (!i) return;
    if (a.transition === 'launch' && result === 'CONTINUE') i.lifecycleState = 'InService';
    else this.endInstance(i);
  }

  private expireLifecycleActions(): void {
    const now = this.clock.now().getTime();
    for (const a of this.lifecycleActions)
      if (a.answer === undefined && now >= a.deadlineMs) this.settleAction(a, this.groups.get(a.autoScalingGroupName)?.defaultResult ?? 'ABANDON', 'timeout');
  }

  /** The pending action these keys name, in this account and Region; undefined when none (answered, timed out, wrong token). */
  private lifecycleAction(ref: LifecycleActionRef, account: string, region: string): SimLifecycleAction | undefined {
    const g = this.groups.get(ref.autoScalingGroupName);
    if (!g || g.account !== account || g.region !== region) throw new AwsRefused(`ValidationError: Group ${ref.autoScalingGroupName} not found`);
    this.expireLifecycleActions();
    return this.lifecycleActions.find(
      (a) => a.answer === undefined && a.autoScalingGroupName === ref.autoScalingGroupName && a.lifecycleHookName === ref.lifecycleHookName &&
        a.lifecycleActionToken === ref.lifecycleActionToken && a.instanceId === ref.instanceId,
    );
  }

  /** The next commands of `document` end as scripted, in order (then the default agent again). */
  script(document: SendCommandRequest['document'], ...outcomes: CommandScript[]): this {
    this.scripts[document].push(...outcomes);
    return this;
  }

  /** The next `times` calls of `op` ('*' = any) fail with `error`. */
  fail(op: FleetOp | '*', times: number, error: () => Error): this {
    this.injections.push({ op, remaining: times, error });
    return this;
  }

  /** Runs `run` before the next `times` calls of `op` (e.g. terminate the instance on sendCommand). */
  before(op: FleetOp, run: (arg: string, fleet: SimFleet) => void, times = 1): this {
    this.hooks.push({ op, remaining: times, run });
    return this;
  }

  /** Throttles `op` ('*' = every call) with a token bucket in virtual time. */
  throttle(op: FleetOp | '*', model: ThrottleModel): this {
    this.buckets.set(op, { ...model, tokens: model.burst, atMs: this.clock.now().getTime() });
    return this;
  }

  /** A parameter's value (tests check the secret was removed). */
  parameter(name: string): string | undefined {
    return this.parameters.get(name);
  }

  /** Puts a parameter as someone else might (any name; `at`: its LastModifiedDate, default now). */
  putParameter(name: string, value: string, at?: Date, where?: { account: string; region: string }): void {
    this.parameters.set(name, value);
    this.modified.set(name, at ?? this.clock.now());
    this.parameterHome.set(name, `${where?.account ?? this.account}/${where?.region ?? this.region}`);
  }

  parameterNames(): string[] {
    return [...this.parameters.keys()];
  }

  sentCommands(): SimCommand[] {
    return [...this.commands.values()];
  }

  /** The Fleet port for an account and Region (only instances there are visible). */
  readonly fleetFor: FleetFor = (target) => this.view(target.account, target.region);

  // ---- the port, per account and Region ---------------------------------------------------

  private view(account: string, region: string): Fleet {
    const find = (id: string): SimInstance | undefined => {
      const i = this.instances.get(id);
      return i && i.account === account && i.region === region ? i : undefined;
    };
    const info = (i: SimInstance): InstanceInfo => ({
      ...this.showTags(i),
      instanceId: i.instanceId,
      state: i.state,
      platform: i.platform,
      launchTime: new Date(i.launchTime),
      ...(i.privateDnsName !== undefined ? { privateDnsName: i.privateDnsName } : {}),
    });
    return {
      describeInstance: async (id, options) => {
        await this.enter('describeInstance', id);
        const i = find(id);
        if (!i) return undefined;
        // Auto Scaling's view, as the adapter's DescribeAutoScalingInstances adds it.
        return options?.autoScaling && i.group !== undefined && i.lifecycleState !== undefined ? { ...info(i), lifecycleState: i.lifecycleState } : info(i);
      },
      describeInstances: async (ids) => {
        await this.enter('describeInstances', ids.join(','));
        const out = new Map<string, InstanceInfo>();
        for (const id of ids) {
          const i = find(id);
          if (i) out.set(id, info(i));
        }
        return out;
      },
      tagInstance: async (id, tags) => {
        await this.enter('tagInstance', id);
        const i = find(id);
        if (!i) throw new AwsRefused(`CreateTags: InvalidInstanceID.NotFound: ${id}`);
        const lag = this.tagLag?.() ?? 0;
        if (lag > 0) (i.pendingTags ??= []).push({ visibleAtMs: this.clock.now().getTime() + lag * 1000, tags: { ...tags } });
        else Object.assign(i.tags, tags);
      },
      ssmPingStatus: async (id) => {
        await this.enter('ssmPingStatus', id);
        return this.ping(find(id));
      },
      // One DescribeInstanceInformation call (the same operation, quota and log as ssmPingStatus).
      ssmPingStatuses: async (ids) => {
        if (ids.length > 50) throw new RangeError(`ssmPingStatuses: at most 50 instances per call, got ${ids.length}`);
        await this.enter('ssmPingStatus', ids.join(','));
        const out = new Map<string, PingStatus>();
        for (const id of ids) {
          const ping = this.ping(find(id));
          if (ping !== 'NotRegistered') out.set(id, ping);
        }
        return out;
      },
      putJoinSecret: async (id, value) => {
        await this.enter('putJoinSecret', id);
        const name = joinSecretName(id, this.secretPath);
        this.parameters.set(name, value);
        this.modified.set(name, this.clock.now());
        this.parameterHome.set(name, `${account}/${region}`);
        return name;
      },
      deleteJoinSecret: async (id) => {
        await this.enter('deleteJoinSecret', id);
        this.parameters.delete(joinSecretName(id, this.secretPath));
      },
      listOtpParameters: async () => {
        await this.enter('listOtpParameters', this.secretPath);
        // One level under the path, as GetParametersByPath without Recursive lists it.
        return [...this.parameters.keys()]
          .filter((name) => (this.parameterHome.get(name) ?? `${this.account}/${this.region}`) === `${account}/${region}`)
          .filter((name) => name.startsWith(this.secretPath) && !name.slice(this.secretPath.length).includes('/'))
          .map((name) => ({ name, lastModified: new Date(this.modified.get(name) ?? this.clock.now()) }));
      },
      sendCommand: async (req) => {
        await this.enter('sendCommand', req.instanceId);
        const i = find(req.instanceId);
        if (!i || i.state === 'terminated' || i.state === 'shutting-down' || this.ping(i) !== 'Online')
          throw new AwsRefused(`SendCommand: InvalidInstanceId: ${req.instanceId} is not in a valid state for account ${account}`);
        return this.send(req);
      },
      getCommand: async (commandId, id) => {
        await this.enter('getCommand', commandId);
        const c = this.commands.get(commandId);
        if (!c || c.request.instanceId !== id) throw new AwsRefused(`GetCommandInvocation: InvocationDoesNotExist: ${commandId}`);
        const i = find(id);
        const now = this.clock.now().getTime();
        if (now >= c.doneAtMs) return { ...c.final };
        if (!i || i.state === 'terminated' || i.state === 'shutting-down') return { status: 'Terminated', stdout: '', stderr: '' };
        // The agent is away for the reboot: SSM retries the delivery (Delayed) until it is back.
        if (i.offline && now >= i.offline.fromMs && now < i.offline.toMs) return { status: 'Delayed', stdout: '', stderr: '' };
        return { status: 'InProgress', stdout: '', stderr: '' };
      },
      completeLifecycleAction: async (ref, result) => {
        await this.enter('completeLifecycleAction', ref.instanceId);
        return this.answerLifecycleAction(ref, result, { account, region });
      },
      recordLifecycleHeartbeat: async (ref) => {
        await this.enter('recordLifecycleHeartbeat', ref.instanceId);
        return this.heartbeatLifecycleAction(ref, { account, region });
      },
    };
  }

  /** CompleteLifecycleAction's effect, synchronously (no call recorded): false when the action is not pending. */
  answerLifecycleAction(ref: LifecycleActionRef, result: LifecycleResult, where: { account: string; region: string } = this): boolean {
    const a = this.lifecycleAction(ref, where.account, where.region);
    if (!a) return false;
    this.settleAction(a, result, result);
    return true;
  }

  /** RecordLifecycleActionHeartbeat's effect, synchronously (no call recorded): false when the action is not pending. */
  heartbeatLifecycleAction(ref: LifecycleActionRef, where: { account: string; region: string } = this): boolean {
    const a = this.lifecycleAction(ref, where.account, where.region);
    if (!a) return false;
    a.deadlineMs = this.clock.now().getTime() + (this.groups.get(a.autoScalingGroupName)?.heartbeatTimeoutSeconds ?? 3600) * 1000;
    return true;
  }

  /** The tags DescribeInstances shows now: writes older than their lag are applied first. */
  private showTags(i: SimInstance): { tags: Record<string, string> } {
    const now = this.clock.now().getTime();
    while (i.pendingTags?.[0] && i.pendingTags[0].visibleAtMs <= now) Object.assign(i.tags, i.pendingTags.shift()?.tags);
    return { tags: { ...i.tags } };
  }

  private ping(i: SimInstance | undefined): PingStatus {
    if (!i) return 'NotRegistered';
    if (i.state !== 'running') return 'ConnectionLost';
    const now = this.clock.now().getTime();
    if (i.offline && now >= i.offline.fromMs && now < i.offline.toMs) return 'ConnectionLost';
    const onlineAt = i.launchTime.getTime() + i.ssmOnlineAfterSeconds * 1000;
    return this.clock.now().getTime() >= onlineAt ? 'Online' : 'NotRegistered';
  }

  private send(req: SendCommandRequest): string {
    const commandId = `00000000-0000-4000-8000-${String(this.nextCommand++).padStart(12, '0')}`;
    const scripted = this.scripts[req.document].shift();
    const now = this.clock.now().getTime();
    const windows = !scripted && req.document === 'joinWindows' ? this.windowsAgent(req) : undefined;
    const result = scripted ? scriptResult(scripted) : windows ? windows.result : this.agent(req);
    if (scripted && req.document !== 'verify' && (result.status === 'Success' || result.exitCode === 7)) {
      // A scripted successful join (or one whose verification failed, exit 7, after adcli joined)
      // leaves the instance joined, as the real document would.
      const i = this.instances.get(req.instanceId);
      const name = req.parameters.ComputerName;
      if (i && name !== undefined) {
        i.joinedAs = name;
        this.directory?.rotatePassword(name);
      }
    }
    const duration = scripted?.durationSeconds ?? windows?.durationSeconds ?? this.commandSeconds?.(req) ?? DEFAULT_DURATION[req.document];
    const reboot = windows?.reboot ?? (scripted?.rebootAfterSeconds !== undefined ? { fromSeconds: scripted.rebootAfterSeconds, toSeconds: scripted.rebootAfterSeconds + (scripted.rebootSeconds ?? WINDOWS_REBOOT_SECONDS) } : undefined);
    const inst = this.instances.get(req.instanceId);
    if (reboot && inst) inst.offline = { fromMs: now + reboot.fromSeconds * 1000, toMs: now + reboot.toSeconds * 1000 };
    this.commands.set(commandId, { commandId, request: structuredClone(req), sentAtMs: now, doneAtMs: now + duration * 1000, final: result });
    return commandId;
  }

  /** The Windows join document on a simulated Windows instance (lab/sim/windows-agent.ts). */
  private windowsAgent(req: SendCommandRequest): ReturnType<typeof runWindowsJoin> {
    const i = this.instances.get(req.instanceId);
    return runWindowsJoin(req, {
      directory: this.directoriesByDomain.get((req.parameters.DomainName ?? '').toLowerCase()) ?? this.directory,
      parameter: (name) => this.parameters.get(name),
      machine: i ?? {},
      traits: i?.windows ?? {},
    });
  }

  /** Joins to `domain` are checked against `directory` (a second directory of the routing rules). */
  useDirectory(domain: string, directory: SimDirectory): void {
    this.directoriesByDomain.set(domain.toLowerCase(), directory);
  }

  /** What the real documents would do, judged from the simulated world. */
  private agent(req: SendCommandRequest): CommandResult {
    const i = this.instances.get(req.instanceId);
    if (req.document === 'join') {
      const directory = this.directoriesByDomain.get((req.parameters.DomainName ?? '').toLowerCase()) ?? this.directory;
      const name = req.parameters.ComputerName ?? '';
      const ref = SECURE.exec(req.parameters.OneTimePassword ?? '');
      const otp = ref?.[1] !== undefined ? this.parameters.get(ref[1]) : undefined;
      if (i?.joinedAs === name) return { status: 'Success', exitCode: 0, stdout: `Already joined as ${name}: adcli testjoin passed`, stderr: '' };
      if (otp === undefined) return { status: 'Failed', exitCode: 1, stdout: '', stderr: 'ParameterNotFound: the one-time password parameter does not exist' };
      if (directory && !directory.byName(name))
        return { status: 'Failed', exitCode: 3, stdout: '', stderr: `adcli: Couldn't authenticate as machine account: ${name}: Client '${name}$@LAB.EXAMPLE.COM' not found in Kerberos database` };
      if (directory && !directory.passwordMatches(name, otp))
        return { status: 'Failed', exitCode: 3, stdout: '', stderr: `adcli: Couldn't authenticate as machine account: ${name}: Preauthentication failed` };
      directory?.rotatePassword(name);
      if (i) i.joinedAs = name;
      // The join document verifies in the same command (verify.sh appended).
      const verified = this.verification(req, i);
      return { ...verified, stdout: `Joined ${name} to the domain; sssd started\n${verified.stdout}` };
    }
    return this.verification(req, i);
  }

  /** Output in the shape of infra/documents/verify.sh (exit 7 when users do not resolve). */
  private verification(req: SendCommandRequest, i: SimInstance | undefined): CommandResult {
    const users = (req.parameters.ProbeUsers ?? '').split(',').filter((u) => u !== '');
    if (i?.joinedAs === undefined)
      return {
        status: 'Failed',
        exitCode: 7,
        stdout: users.map((u) => `adjoin: ${u} does NOT resolve after 10 attempts\n  getent passwd ${u}: <no entry>\n  id ${u}: id: '${u}': no such user`).join('\n'),
        stderr: `adjoin: FAILED: ${users.join(' ')} did not resolve through NSS: check that sssd runs, /etc/nsswitch.conf lists sss, and the instance reaches the domain controllers`,
      };
    return {
      status: 'Success',
      exitCode: 0,
      stdout: [
        ...users.map((u, n) => `adjoin: ${u} resolves: ${u}:*:${200001 + n}:200513:${u}:/home/${u}:/bin/bash`),
        `adjoin: verified: ${users.join(' ')} resolve`,
      ].join('\n'),
      stderr: '',
    };
  }

  private async enter(op: FleetOp, arg: string): Promise<void> {
    const call: SimFleet['calls'][number] = { op, arg, atMs: this.clock.now().getTime() };
    this.calls.push(call);
    const latency = this.latencyMs?.(op) ?? 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    else await Promise.resolve();
    for (const h of this.hooks)
      if (h.op === op && h.remaining > 0) {
        h.remaining -= 1;
        h.run(arg, this);
      }
    const inj = this.injections.find((x) => x.remaining > 0 && (x.op === '*' || x.op === op));
    if (inj) {
      inj.remaining -= 1;
      throw inj.error();
    }
    for (const key of [op, '*'] as const) {
      const b = this.buckets.get(key);
      if (!b) continue;
      const now = this.clock.now().getTime();
      b.tokens = Math.min(b.burst, b.tokens + ((now - b.atMs) / 1000) * b.ratePerSecond);
      b.atMs = now;
      if (b.tokens < 1) {
        this.throttled.set(op, (this.throttled.get(op) ?? 0) + 1);
        call.throttled = true;
        throw new Throttled(`${op}: Rate exceeded (simulated throttling)`);
      }
      b.tokens -= 1;
    }
  }
}

function scriptResult(s: CommandScript): CommandResult {
  const status = s.status ?? 'Success';
  return {
    status,
    exitCode: s.exitCode ?? (status === 'Success' ? 0 : 1),
    stdout: s.stdout ?? '',
    stderr: s.stderr ?? '',
  };
}
