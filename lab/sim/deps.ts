/**
 * A simulated world for workflow tests and scale runs: settings (validated like production),
 * a VirtualClock, a SimDirectory, a SimFleet, a silent Powertools Logger and a deterministic
 * Random, assembled as the Deps every task receives.
 *
 *   const sim = simDeps();
 *   sim.fleet.addInstance({ instanceId: 'i-0123456789abcdef0', tags: { 'Domain:Join': 'true' } });
 *   const engine = new LocalEngine(definitions, { deps: sim.provider, clock: sim.clock });
 */
import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Deps, DepsProvider } from '../../tasks/lib/deps';
import type { Random } from '../../tasks/lib/ports';
import { joinSecretPath } from '../../tasks/lib/naming';
import { lazyDirectories } from '../../tasks/lib/routing';
import { defaultTagSettings, documentNames, validateSettings, type Settings } from '../../tasks/lib/settings';
import { ScaledClock, VirtualClock } from '../../engine/clock';
import { SimClaims, SimExecutionHistory } from './claims';
import { SimPacer } from './pacer';
import { SimDirectory, type SimDirectoryOptions } from './directory';
import { SimFleet, type FleetOp, type SimFleetOptions } from './fleet';

/** Deterministic bytes: SHA-256 of (seed, counter), concatenated. Never for real passwords. */
export class SeededRandom implements Random {
  private counter = 0;
  constructor(private readonly seed = 'adjoin-sim') {}
  bytes(n: number): Buffer {
    const chunks: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const c = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest();
      chunks.push(c);
      have += c.length;
    }
    return Buffer.concat(chunks).subarray(0, n);
  }
}

export const SIM_BASE_DN = 'DC=lab,DC=example,DC=com';
export const SIM_COMPUTER_OU = `OU=Adjoin,OU=Computers,${SIM_BASE_DN}`;

/** Settings of the simulated world (valid for validateSettings). */
export function simSettings(): Settings {
  return {
    directory: {
      kind: 'self-managed',
      domain: 'lab.example.com',
      netbiosName: 'LAB',
      baseDn: SIM_BASE_DN,
      computerOu: SIM_COMPUTER_OU,
      managedOus: [SIM_COMPUTER_OU],
      ldapUrls: ['ldaps://dc1.lab.example.com:636'],
      tlsServerName: 'dc1.lab.example.com',
      caPem: '-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n',
      insecure: false,
      bindSecretId: 'adjoin/sim/bind',
      dcIps: ['10.99.0.2'],
      idMapping: { mode: 'sid', domainSid: 'S-1-5-21-1111111111-2222222222-3333333333' },
      loginGroups: ['linux-admins'],
      probeUsers: ['alice'],
    },
    tags: defaultTagSettings(),
    naming: { prefix: '' },
    documents: documentNames('adjoin'),
    claimsTableName: 'adjoin-join-claims',
    timings: { settleSeconds: 30, ssmOnlineDeadlineSeconds: 600, commandDeadlineSeconds: 600, claimLeaseSeconds: 3600 },
    reconcile: { graceSeconds: 3600, maxDeletions: 25, dryRun: false },
  };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (patch === undefined) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    const cur = out[k];
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v) && cur !== null && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur, v)
        : v;
  }
  return out as T;
}

export interface SimDepsOptions {
  /** Settings to start from instead of simSettings() (e.g. synthesizeDefinitions().settings, so the
   *  tasks and the state machine agree on timings). */
  baseSettings?: Settings;
  /** Changes to the base settings (validated after merging). */
  settings?: DeepPartial<Settings>;
  /** Virtual start time (default 2026-01-01T00:00:00Z). */
  start?: Date | string;
  /** Scale runs: a ScaledClock running this many times faster than real time, instead of a
   *  stepped VirtualClock (give the engine the same clock). */
  speedup?: number;
  seed?: string;
  /** Default account and Region of simulated instances (default 123456789012 / eu-west-1). */
  account?: string;
  region?: string;
  /** Real ms per fleet call (scale runs). */
  latencyMs?: (op: FleetOp) => number;
  /** Real ms per claims-table call (scale runs). */
  claimsLatencyMs?: () => number;
  /** Server page size of the directory (default 1000). */
  maxPageSize?: number;
  /** Burst runs: EC2 tag lag and command durations of the fleet (see SimFleetOptions). */
  fleet?: Pick<SimFleetOptions, 'tagVisibleAfterSeconds' | 'commandSeconds'>;
  /** Burst runs: per-operation latency and capacity of the directory (see SimDirectoryOptions). */
  directoryLoad?: Pick<SimDirectoryOptions, 'latencyMs' | 'capacity'>;
}

/** Deps over the simulated world, plus the world itself for arranging and asserting. */
export interface SimDeps extends Deps {
  clock: VirtualClock | ScaledClock;
  directory: SimDirectory;
  fleet: SimFleet;
  claims: SimClaims;
  /** The pacing lines (tasks/lib/pace.ts): used when settings.pacing sets a rate. */
  pacer: SimPacer;
  executions: SimExecutionHistory;
  /** The DepsProvider to give the engine (resolves to this object). */
  provider: DepsProvider;
}

export function simDeps(options: SimDepsOptions = {}): SimDeps {
  const settings = validateSettings(merge(options.baseSettings ?? simSettings(), options.settings));
  const clock = options.speedup !== undefined ? new ScaledClock(options.start, options.speedup) : new VirtualClock(options.start);
  const directory = new SimDirectory({ clock, managedOus: settings.directory.managedOus, baseDn: settings.directory.baseDn, ...(options.maxPageSize ? { maxPageSize: options.maxPageSize } : {}), ...options.directoryLoad });
  const fleet = new SimFleet({
    clock,
    directory,
    secretPath: joinSecretPath(settings.documents.join),
    ...(options.account ? { account: options.account } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
    ...options.fleet,
  });
  const logger = new Logger({ serviceName: 'adjoin-sim', logLevel: 'SILENT' });
  const claims = new SimClaims(clock, options.claimsLatencyMs);
  const deps: SimDeps = {
    settings,
    directory,
    // Other directories: an empty SimDirectory each, on the same clock.
    directoryFor: lazyDirectories(settings, (d) => {
      const other = new SimDirectory({ clock, managedOus: d.managedOus, baseDn: d.baseDn, ...options.directoryLoad });
      fleet.useDirectory(d.domain, other);
      return other;
    }, directory),
    fleet,
    fleetFor: fleet.fleetFor,
    claims,
    board: claims,
    pacer: new SimPacer(options.claimsLatencyMs),
    executions: new SimExecutionHistory(),
    clock,
    random: new SeededRandom(options.seed),
    logger,
    provider: () => Promise.resolve(deps),
  };
  return deps;
}
