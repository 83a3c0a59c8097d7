/**
 * Small fakes for the leave / reconcile unit tests: an in-memory Directory with paging and a
 * call log, a Fleet per account/Region with scripted answers and errors, settings, a logger.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Deps } from '../../tasks/lib/deps';
import type { ComputerObject, Directory, Fleet, FleetFor, InstanceInfo, Marker, NewComputer } from '../../tasks/lib/ports';
import { defaultTagSettings, documentNames, type Settings } from '../../tasks/lib/settings';

export const OU = 'OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com';
export const ACCOUNT = '111122223333';
export const REGION = 'eu-west-1';
export const NOW = new Date('2026-11-21T12:00:00.000Z');
export const OLD = new Date('2026-11-01T00:00:00.000Z');

export function testSettings(over: Partial<Settings['reconcile']> = {}): Settings {
  return {
    directory: {
      kind: 'self-managed',
      domain: 'corp.example.com',
      netbiosName: 'CORP',
      baseDn: 'DC=corp,DC=example,DC=com',
      computerOu: OU,
      managedOus: [OU],
      ldapUrls: ['ldaps://dc1.corp.example.com'],
      caPem: 'x',
      insecure: false,
      bindSecretId: 'secret',
      dcIps: ['10.0.0.10'],
      idMapping: { mode: 'rfc2307' },
      loginGroups: [],
      probeUsers: ['alice'],
    },
    tags: defaultTagSettings(),
    naming: { prefix: '' },
    documents: documentNames('adjoin'),
    timings: { settleSeconds: 0, ssmOnlineDeadlineSeconds: 600, commandDeadlineSeconds: 600, claimLeaseSeconds: 900 },
    reconcile: { graceSeconds: 3600, maxDeletions: 50, dryRun: false, ...over },
  };
}

export const iid = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;
export const markerOf = (n: number, account = ACCOUNT, region = REGION): Marker => ({ account, region, instanceId: iid(n) });

export function computer(n: number, over: Partial<ComputerObject> = {}): ComputerObject {
  const name = `EC2-${n.toString(16).padStart(8, '0')}`.slice(0, 15);
  return {
    dn: `CN=${name},${OU}`,
    name,
    marker: markerOf(n),
    dnsHostName: `${name.toLowerCase()}.corp.example.com`,
    whenCreated: OLD,
    ...over,
  };
}

export const instance = (n: number, state: InstanceInfo['state'], tags: Record<string, string> = {}): InstanceInfo => ({
  instanceId: iid(n),
  state,
  platform: 'linux',
  tags,
});

export class FakeDirectory implements Directory {
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
    const o: ComputerObject = { dn: `CN=${spec.name},${spec.ou}`, name: spec.name, marker: spec.marker, whenCreated: NOW };
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

/** Typed jest matchers (expect.any / stringMatching are `any`). */
export const aString = (re?: RegExp): string => (re ? expect.stringMatching(re) : expect.any(String)) as string;

/** Instances per "account/region"; errors per operation. */
export class FakeFleets {
  readonly instances = new Map<string, Map<string, InstanceInfo>>();
  readonly describeCalls: { target: string; ids: string[] }[] = [];
  error: Error | undefined;
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
  readonly fleetFor: FleetFor = ({ account, region }) => {
    const key = `${account}/${region}`;
    const get = (): Map<string, InstanceInfo> => this.instances.get(key) ?? new Map<string, InstanceInfo>();
    const fail = (): void => {
      if (this.error) throw this.error;
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
      deleteJoinSecret: unused,
      sendCommand: unused,
      getCommand: unused,
    };
    return fleet;
  };
}

export const silentLogger = (): Logger => new Logger({ serviceName: 'adjoin-test', logLevel: 'SILENT' });

export function makeDeps(directory: FakeDirectory, fleets: FakeFleets, settings = testSettings(), now = NOW): Deps {
  return {
    settings,
    directory,
    fleetFor: fleets.fleetFor,
    clock: { now: () => now },
    random: { bytes: (n: number) => Buffer.alloc(n, 7) },
    logger: silentLogger(),
  };
}
