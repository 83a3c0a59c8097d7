/**
 * Minimal in-memory fakes of the ports for the join-task unit tests (richer ones: lab/sim/).
 * Every fake records its calls so tests can assert exactly what was done.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { PrepareComputerOutput, ReadInstanceOutput } from '../../tasks/lib/contracts';
import type { Deps } from '../../tasks/lib/deps';
import { sameMarker } from '../../tasks/lib/marker';
import type {
  CommandResult,
  ComputerObject,
  Directory,
  Fleet,
  FleetFor,
  InstanceInfo,
  Marker,
  NewComputer,
  PingStatus,
  SendCommandRequest,
} from '../../tasks/lib/ports';
import { defaultTagSettings, documentNames, type Settings } from '../../tasks/lib/settings';

export const OU = 'OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com';
export const OTHER_OU = 'OU=Servers,DC=corp,DC=example,DC=com';
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const INSTANCE = 'i-0123456789abcdef0';
export const NOW = new Date('2026-11-21T10:00:00.000Z');

export function testSettings(): Settings {
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
    timings: { settleSeconds: 30, ssmOnlineDeadlineSeconds: 900, commandDeadlineSeconds: 600, claimLeaseSeconds: 900 },
    reconcile: { graceSeconds: 3600, maxDeletions: 50, dryRun: false },
  };
}

export type Call = [string, ...unknown[]];

/** Runs a synchronous body as a promise (a throw becomes a rejection). */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

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
      const o = { dn: `CN=${spec.name},${spec.ou}`, name: spec.name, marker: spec.marker, description: spec.description, dnsHostName: spec.fqdn, whenCreated: NOW, password: spec.password };
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
  const deps: Deps = {
    settings,
    directory,
    fleetFor,
    clock: { now: () => clock.t },
    random: seqRandom(),
    logger: new Logger({ serviceName: 'adjoin-test', logLevel: 'SILENT' }),
  };
  return { deps, directory, fleet, fleetTargets, clock };
}

/** An EC2 state-change event for INSTANCE. */
export const goodEvent = {
  version: '0',
  id: 'e1',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  region: 'eu-west-1',
  time: '2026-11-21T10:00:00Z',
  resources: ['arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0'],
  detail: { 'instance-id': 'i-0123456789abcdef0', state: 'running' },
};

/** $.instance of an execution that proceeds. */
export const proceed: ReadInstanceOutput = {
  instanceId: INSTANCE,
  account: '123456789012',
  region: 'eu-west-1',
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
