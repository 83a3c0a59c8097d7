/**
 * The fakes and settings builders of the unit tests (and of any test that wants them): one set
 * of constants (account, Region, OU, time), one settings builder, in-memory ports that record
 * their calls so a test can assert exactly what was done. Richer simulations: lab/sim/.
 *
 *   join tasks          world(): FakeDirectory + FakeFleet, one account and Region
 *   leave / reconcile   makeDeps(PagedDirectory, FakeFleets): paging, many accounts/Regions,
 *                       scripted EC2 errors and delays
 */
import { SimClaims, SimExecutionHistory } from '../lab/sim/claims';
import { Logger } from '@aws-lambda-powertools/logger';
import type { PrepareComputerOutput, ReadInstanceOutput, RunJoinInput, ScanOutput } from '../tasks/lib/contracts';
import type { Deps, DepsProvider } from '../tasks/lib/deps';
import { sameMarker } from '../tasks/lib/marker';
import { lazyDirectories } from '../tasks/lib/routing';
import type {
  CommandResult,
  ComputerObject,
  Directory,
  Fleet,
  FleetFor,
  InstanceInfo,
  LifecycleActionRef,
  LifecycleResult,
  Marker,
  NewComputer,
  OtpParameter,
  PingStatus,
  SendCommandRequest,
} from '../tasks/lib/ports';
import { defaultTagSettings, documentNames, type Settings } from '../tasks/lib/settings';

export const OU = 'OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com';
export const OTHER_OU = 'OU=Servers,DC=corp,DC=example,DC=com';
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const INSTANCE = 'i-0123456789abcdef0';
export const NOW = new Date('2026-11-21T10:00:00.000Z');
/** A creation time far older than any grace period. */
export const OLD = new Date('2026-11-01T00:00:00.000Z');

export function testSettings(reconcile: Partial<Settings['reconcile']> = {}): Settings {
  return {
    directory: {
      kind: 'aws-managed',
      domain: 'corp.example.com',
      netbiosName: 'CORP',
      baseDn: 'DC=corp,DC=example,DC=com',
      computerOu: OU,
      managedOus: [OU],
      ldapUrls: ['ldaps://10.0.0.10', 'ldaps://10.0.0.11'],
      tlsServerName: 'dc1.corp.example.com',
      caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      insecure: false,
      bindSecretId: 'adjoin/bind',
      dcIps: ['10.0.0.10', '10.0.0.11'],
      idMapping: { mode: 'sid', domainSid: 'S-1-5-21-1-2-3' },
      loginGroups: ['linux-admins'],
      probeUsers: ['alice', 'bob'],
    },
    tags: defaultTagSettings(),
    naming: { prefix: '' },
    documents: documentNames('adjoin'),
    claimsTableName: 'adjoin-join-claims',
    timings: { settleSeconds: 30, ssmOnlineDeadlineSeconds: 900, commandDeadlineSeconds: 600, claimLeaseSeconds: 900 },
    reconcile: { graceSeconds: 3600, maxDeletions: 50, dryRun: false, ...reconcile },
  };
}

export const silentLogger = (): Logger => new Logger({ serviceName: 'adjoin-test', logLevel: 'SILENT' });

/** Typed jest matchers (expect.any / stringMatching are `any`). */
export const aString = (re?: RegExp): string => (re ? expect.stringMatching(re) : expect.any(String)) as string;

// ---- join tasks -----------------------------------------------------------------------------

export type Call = [string, ...unknown[]];

/** Runs a synchronous body as a promise (a throw becomes a rejection). */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** The directory of the join-task tests: a list of objects, calls logged as tuples. */
export class FakeDirectory implements Directory {
  objects: (ComputerObject & { password?: string })[] = [];
  calls: Call[] = [];
  managedOus = [OU];
  /** Names whose add fails with ComputerNameConflict once (a race), keyed by name. */
  failCreate?: (spec: NewComputer) => Error | undefined;

  findByMarker(marker: Marker): Promise<ComputerObject[]> {
    return settle((): ComputerObject[] => {
      this.calls.push(['findByMarker', marker]);
      return this.objects.filter((o) => sameMarker(o.marker, marker) && this.managedOus.some((ou) => o.dn.toLowerCase().endsWith(`,${ou.toLowerCase()}`)));
    });
  }
  findByName(name: string): Promise<ComputerObject | undefined> {
    return settle((): ComputerObject | undefined => {
      this.calls.push(['findByName', name]);
      return this.objects.find((o) => o.name.toUpperCase() === name.toUpperCase());
    });
  }
  createComputer(spec: NewComputer): Promise<ComputerObject> {
    return settle((): ComputerObject => {
      this.calls.push(['createComputer', { ...spec, password: '<hidden>' }]);
      const e = this.failCreate?.(spec);
      if (e) throw e;
      const o = {
        dn: `CN=${spec.name},${spec.ou}`,
        name: spec.name,
        marker: spec.marker,
        description: spec.description,
        dnsHostName: spec.fqdn,
        whenCreated: NOW,
        guid: guidOf(this.objects.length + 1000),
        createdByUs: true,
        password: spec.password,
      };
      this.objects.push(o);
      return o;
    });
  }
  resetPassword(dn: string, password: string): Promise<void> {
    return settle((): void => {
      this.calls.push(['resetPassword', dn]);
      const o = this.objects.find((x) => x.dn === dn);
      if (o) o.password = password;
    });
  }
  deleteComputer(dn: string): Promise<void> {
    return settle((): void => {
      this.calls.push(['deleteComputer', dn]);
      this.objects = this.objects.filter((o) => o.dn !== dn);
    });
  }
  deleteDnsRecords(hostname: string): Promise<number> {
    return settle((): number => {
      this.calls.push(['deleteDnsRecords', hostname]);
      return 1;
    });
  }
  async *listManaged(): AsyncIterable<ComputerObject[]> {
    yield await Promise.resolve(this.objects.filter((o) => o.marker));
  }
}

/** One fleet (one account and Region) for the join-task tests: every port method, calls logged. */
export class FakeFleet implements Fleet {
  instances = new Map<string, InstanceInfo>();
  ping: PingStatus = 'Online';
  secrets = new Map<string, string>();
  commands = new Map<string, CommandResult>();
  sent: SendCommandRequest[] = [];
  calls: Call[] = [];
  sendError?: Error;
  nextCommandId = 1;

  describeInstance(id: string): Promise<InstanceInfo | undefined> {
    return settle((): InstanceInfo | undefined => {
      this.calls.push(['describeInstance', id]);
      const i = this.instances.get(id);
      return i ? { ...i, tags: { ...i.tags } } : undefined; // a fresh read, like EC2's
    });
  }
  describeInstances(ids: string[]): Promise<Map<string, InstanceInfo>> {
    return settle((): Map<string, InstanceInfo> => {
      this.calls.push(['describeInstances', ids]);
      return new Map(ids.flatMap((id) => (this.instances.has(id) ? [[id, this.instances.get(id) as InstanceInfo] as const] : [])));
    });
  }
  tagInstance(id: string, tags: Record<string, string>): Promise<void> {
    return settle((): void => {
      this.calls.push(['tagInstance', id, tags]);
      const i = this.instances.get(id);
      if (i) i.tags = { ...i.tags, ...tags };
    });
  }
  ssmPingStatus(id: string): Promise<PingStatus> {
    return settle((): PingStatus => {
      this.calls.push(['ssmPingStatus', id]);
      return this.ping;
    });
  }
  putJoinSecret(id: string, value: string): Promise<string> {
    return settle((): string => {
      this.calls.push(['putJoinSecret', id]);
      this.secrets.set(id, value);
      return `/adjoin/otp/${id}`;
    });
  }
  deleteJoinSecret(id: string): Promise<void> {
    return settle((): void => {
      this.calls.push(['deleteJoinSecret', id]);
      this.secrets.delete(id);
    });
  }
  listOtpParameters(): Promise<OtpParameter[]> {
    return settle((): OtpParameter[] => {
      this.calls.push(['listOtpParameters', '']);
      return [...this.secrets.keys()].map((id) => ({ name: `/adjoin/otp/${id}`, lastModified: new Date(0) }));
    });
  }
  sendCommand(request: SendCommandRequest): Promise<string> {
    return settle((): string => {
      this.calls.push(['sendCommand', request.document]);
      if (this.sendError) throw this.sendError;
      this.sent.push(request);
      return `cmd-${this.nextCommandId++}`;
    });
  }
  getCommand(commandId: string, id: string): Promise<CommandResult> {
    return settle((): CommandResult => {
      this.calls.push(['getCommand', commandId, id]);
      return this.commands.get(commandId) ?? { status: 'Pending', stdout: '', stderr: '' };
    });
  }
  /** Lifecycle answers given, in order; `lifecyclePending` false: the action was answered or timed out. */
  lifecycleAnswers: { action: LifecycleActionRef; result: LifecycleResult | 'heartbeat' }[] = [];
  lifecyclePending = true;
  completeLifecycleAction(action: LifecycleActionRef, result: LifecycleResult): Promise<boolean> {
    return settle((): boolean => {
      this.calls.push(['completeLifecycleAction', action.instanceId, result]);
      this.lifecycleAnswers.push({ action, result });
      const pending = this.lifecyclePending;
      this.lifecyclePending = false;
      return pending;
    });
  }
  recordLifecycleHeartbeat(action: LifecycleActionRef): Promise<boolean> {
    return settle((): boolean => {
      this.calls.push(['recordLifecycleHeartbeat', action.instanceId]);
      this.lifecycleAnswers.push({ action, result: 'heartbeat' });
      return this.lifecyclePending;
    });
  }
}

export function instance(over: Partial<InstanceInfo> = {}): InstanceInfo {
  return { instanceId: INSTANCE, state: 'running', platform: 'linux', tags: { 'Domain:Join': 'true' }, ...over };
}

/** A counter-based Random: deterministic, never all the same byte. */
export function seqRandom(seed = 7): { bytes: (n: number) => Buffer } {
  let x = seed;
  return {
    bytes: (n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[i] = (x >>> 16) & 0xff;
      }
      return b;
    },
  };
}

export interface TestWorld {
  deps: Deps;
  directory: FakeDirectory;
  fleet: FakeFleet;
  fleetTargets: { account: string; region: string }[];
  clock: { t: Date };
  claims: SimClaims;
}

export function world(settings: Settings = testSettings()): TestWorld {
  const directory = new FakeDirectory();
  const fleet = new FakeFleet();
  const fleetTargets: { account: string; region: string }[] = [];
  const clock = { t: NOW };
  const fleetFor: FleetFor = (target) => {
    fleetTargets.push({ account: target.account, region: target.region });
    return fleet;
  };
  const now = { now: () => clock.t };
  const claims = new SimClaims(now);
  const deps: Deps = { settings, directory, directoryFor: lazyDirectories(settings, () => directory, directory), fleetFor, claims, executions: new SimExecutionHistory(), clock: now, random: seqRandom(), logger: silentLogger() };
  return { deps, directory, fleet, fleetTargets, clock, claims };
}

/** An EC2 state-change event for INSTANCE. */
export const goodEvent = {
  version: '0',
  id: 'e1',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: ACCOUNT,
  region: REGION,
  time: '2026-11-21T10:00:00Z',
  resources: ['arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0'],
  detail: { 'instance-id': 'i-0123456789abcdef0', state: 'running' },
};

/** $.instance of an execution that proceeds. */
export const proceed: ReadInstanceOutput = {
  instanceId: INSTANCE,
  account: ACCOUNT,
  region: REGION,
  outcome: 'proceed',
  reason: 'opted in',
  platform: 'linux',
  loginGroups: ['linux-admins'],
};

/** $.computer after "Prepare computer object". */
export const prepared: PrepareComputerOutput = {
  name: 'LAINBYMGELWZY7L',
  dn: `CN=LAINBYMGELWZY7L,${OU}`,
  fqdn: 'lainbymgelwzy7l.corp.example.com',
  action: 'created',
  secretName: '/adjoin/otp/i-0123456789abcdef0',
};

/** The input of "Run join document", first round. */
export const runInput: RunJoinInput = { instance: proceed, computer: prepared, redriveCount: 0, executionName: 'exec-1' };

// ---- leave / reconcile ----------------------------------------------------------------------

export const iid = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;
/** A canonical objectGUID for number n (distinct per n). */
export const guidOf = (n: number): string => `0000${n.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`.slice(-36);
/** The service account's SID in the unit tests, and a domain admin's. */
export const SERVICE_SID = 'S-1-5-21-1-2-3-1105';
export const ADMIN_SID = 'S-1-5-21-1-2-3-512';
export const markerOf = (n: number, account = ACCOUNT, region = REGION): Marker => ({ account, region, instanceId: iid(n) });

export function computer(n: number, over: Partial<ComputerObject> = {}): ComputerObject {
  const name = `EC2-${n.toString(16).padStart(8, '0')}`.slice(0, 15);
  return {
    dn: `CN=${name},${OU}`,
    name,
    marker: markerOf(n),
    dnsHostName: `${name.toLowerCase()}.corp.example.com`,
    whenCreated: OLD,
    guid: guidOf(n),
    ownerSid: SERVICE_SID,
    createdByUs: true,
    ...over,
  };
}

/** A numbered instance in a given state (leave, reconcile, safety rules). */
export const instanceNo = (n: number, state: InstanceInfo['state'], tags: Record<string, string> = {}): InstanceInfo => ({
  instanceId: iid(n),
  state,
  platform: 'linux',
  tags,
});

/**
 * The directory of the leave / reconcile tests: objects by DN, paged listing, DNS records, an
 * injected error per operation, calls logged as "<op> <arg>".
 */
export class PagedDirectory implements Directory {
  readonly objects = new Map<string, ComputerObject>(); // by lower-case DN
  readonly calls: string[] = [];
  readonly dnsRecords = new Map<string, number>(); // hostname → records
  pageSize = 1000;
  /** Throw DirectoryUnavailable-like errors from these operations. */
  failOn = new Map<string, Error>();

  constructor(objects: ComputerObject[] = []) {
    for (const o of objects) this.add(o);
  }
  add(o: ComputerObject): void {
    this.objects.set(o.dn.toLowerCase(), o);
    if (o.dnsHostName) this.dnsRecords.set(o.dnsHostName, 1);
  }
  /** Records the call (as "<op> <arg>") and throws the injected error, after a tick (like I/O). */
  private async enter(op: string, arg?: string): Promise<void> {
    await Promise.resolve();
    this.calls.push(arg === undefined ? op : `${op} ${arg}`);
    const err = this.failOn.get(op);
    if (err) throw err;
  }
  async findByMarker(marker: Marker): Promise<ComputerObject[]> {
    await this.enter('findByMarker', marker.instanceId);
    return [...this.objects.values()].filter(
      (o) => o.marker && o.marker.account === marker.account && o.marker.region === marker.region && o.marker.instanceId === marker.instanceId,
    );
  }
  async findByName(name: string): Promise<ComputerObject | undefined> {
    await this.enter('findByName', name);
    return [...this.objects.values()].find((o) => o.name.toLowerCase() === name.toLowerCase());
  }
  async createComputer(spec: NewComputer): Promise<ComputerObject> {
    await this.enter('createComputer', spec.name);
    const o: ComputerObject = { dn: `CN=${spec.name},${spec.ou}`, name: spec.name, marker: spec.marker, whenCreated: NOW, guid: guidOf(this.objects.size + 1000), createdByUs: true };
    this.add(o);
    return o;
  }
  async resetPassword(dn: string): Promise<void> {
    await this.enter('resetPassword', dn);
  }
  async deleteComputer(dn: string): Promise<void> {
    await this.enter('deleteComputer', dn);
    this.objects.delete(dn.toLowerCase());
  }
  async deleteDnsRecords(hostname: string): Promise<number> {
    await this.enter('deleteDnsRecords', hostname);
    const n = this.dnsRecords.get(hostname) ?? 0;
    this.dnsRecords.delete(hostname);
    return n;
  }
  async *listManaged(): AsyncIterable<ComputerObject[]> {
    const all = [...this.objects.values()];
    for (let i = 0; i < all.length; i += this.pageSize) {
      await this.enter('listManaged', 'page');
      yield all.slice(i, i + this.pageSize);
    }
  }
  get deletes(): string[] {
    return this.calls.filter((c) => c.startsWith('deleteComputer '));
  }
}

/** Instances per "account/region"; errors per operation. */
export class FakeFleets {
  readonly instances = new Map<string, Map<string, InstanceInfo>>();
  readonly describeCalls: { target: string; ids: string[] }[] = [];
  /** One-time-password parameters per "account/region": name → LastModifiedDate. */
  readonly parameters = new Map<string, Map<string, Date>>();
  /** Errors of listOtpParameters per "account/region" (each thrown once per entry in the list). */
  readonly listErrors = new Map<string, Error[]>();
  /** Every parameter delete, as "account/region name". */
  readonly parameterDeletes: string[] = [];
  error: Error | undefined;
  /** Errors of one "account/region" only (an unreachable member account). */
  readonly errorFor = new Map<string, Error>();
  /** Fail only the n-th describeInstances call (1-based). */
  failCall: { n: number; error: Error } | undefined;
  /** Real milliseconds each describeInstances call takes; the most calls seen in flight at once. */
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;

  put(info: InstanceInfo, account = ACCOUNT, region = REGION): void {
    const key = `${account}/${region}`;
    const m = this.instances.get(key) ?? new Map<string, InstanceInfo>();
    m.set(info.instanceId, info);
    this.instances.set(key, m);
  }
  putParameter(name: string, lastModified: Date, account = ACCOUNT, region = REGION): void {
    const key = `${account}/${region}`;
    const m = this.parameters.get(key) ?? new Map<string, Date>();
    m.set(name, lastModified);
    this.parameters.set(key, m);
  }
  readonly fleetFor: FleetFor = ({ account, region }) => {
    const key = `${account}/${region}`;
    const get = (): Map<string, InstanceInfo> => this.instances.get(key) ?? new Map<string, InstanceInfo>();
    const fail = (): void => {
      const e = this.errorFor.get(key) ?? this.error;
      if (e) throw e;
    };
    const unused = (): Promise<never> => Promise.reject(new Error('not used by leave/reconcile'));
    const fleet: Fleet = {
      describeInstance: async (id) => {
        await Promise.resolve();
        this.describeCalls.push({ target: key, ids: [id] });
        fail();
        return get().get(id);
      },
      describeInstances: async (ids) => {
        this.describeCalls.push({ target: key, ids: [...ids] });
        const n = this.describeCalls.length;
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
          if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        } finally {
          this.inFlight -= 1;
        }
        if (this.failCall?.n === n) throw this.failCall.error;
        fail();
        const out = new Map<string, InstanceInfo>();
        for (const id of ids) {
          const i = get().get(id);
          if (i) out.set(id, i);
        }
        return out;
      },
      tagInstance: unused,
      ssmPingStatus: unused,
      putJoinSecret: unused,
      deleteJoinSecret: async (id) => {
        await Promise.resolve();
        const name = `/adjoin/otp/${id}`;
        this.parameterDeletes.push(`${key} ${name}`);
        this.parameters.get(key)?.delete(name);
      },
      listOtpParameters: async () => {
        await Promise.resolve();
        const e = this.listErrors.get(key)?.shift() ?? this.errorFor.get(key);
        if (e) throw e;
        return [...(this.parameters.get(key) ?? new Map<string, Date>()).entries()].map(([name, lastModified]) => ({ name, lastModified }));
      },
      sendCommand: unused,
      getCommand: unused,
      completeLifecycleAction: unused,
      recordLifecycleHeartbeat: unused,
    };
    return fleet;
  };
}

/** Deps over a PagedDirectory and FakeFleets, at a fixed time. */
export function makeDeps(directory: PagedDirectory, fleets: FakeFleets, settings = testSettings(), now = NOW): Deps {
  const clock = { now: () => now };
  return { settings, directory, directoryFor: lazyDirectories(settings, () => directory, directory), fleetFor: fleets.fleetFor, claims: new SimClaims(clock), executions: new SimExecutionHistory(), clock, random: seqRandom(), logger: silentLogger() };
}

/** The instance reference (state data) of numbered instance n. */
export const refOf = (n: number): { instanceId: string; account: string; region: string } => ({ instanceId: iid(n), account: ACCOUNT, region: REGION });

export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** A PagedDirectory holding `objects`, FakeFleets, and the provider a task's makeHandler takes. */
export function pagedWorld(objects: ComputerObject[], reconcile: Partial<Settings['reconcile']> = {}) {
  const directory = new PagedDirectory(objects);
  const fleets = new FakeFleets();
  const deps = makeDeps(directory, fleets, testSettings(reconcile));
  const provider: DepsProvider = () => Promise.resolve(deps);
  return { directory, fleets, deps, provider };
}

/** $.scan of a run that found `stale` objects and listed the first `listed` of them. */
export const scanOf = (stale: number, listed: number, dryRun = false): ScanOutput => ({
  dryRun,
  graceSeconds: 3600,
  scanned: stale,
  stale,
  notOurs: 0,
  outsideManagedOu: 0,
  young: 0,
  alive: 0,
  joinRunning: 0,
  notProvenOurs: 0,
  unreachable: 0,
  skippedAccounts: [],
  staleList: range(0, listed).map((n) => ({ object: { dn: computer(n).dn, name: computer(n).name }, instance: markerOf(n) })),
  notListed: stale - listed,
  ldapPages: 1,
  ec2Calls: 1,
  fleets: 1,
});
