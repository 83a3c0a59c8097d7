/**
 * The lab target (`--local`): executions come from the local engine's execution store (plain
 * JSON files, readable without root), start and redrive go through the lab runtime, instance
 * status comes from the lab world's state (and, when the lab is up, the DC itself).
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { ExecutionEvent, ExecutionRecord, ExecutionStore } from '../engine';
import { readState } from '../lab/world/state';
import { formatMarker } from '../tasks/lib/marker';
import type { InstanceInfo } from '../tasks/lib/ports';
import type {
  Backend,
  ComputerInfo,
  ExecutionDetail,
  ExecutionSummary,
  InstanceStatus,
  ListQuery,
  RedriveResult,
  StartRequest,
  StartResult,
  Workflow,
} from './backend';
import { Workflows } from './backend';
import { ec2StateEvent, eventStateFor, lifecycleLaunchEvent, executionName, instanceFromInput, instanceFromName } from './ec2-event';
import { failed, notFound, usage } from './exit';
import type { LabWorld } from './lab-link';
import type { LabRuntime } from './lab-runtime';
import { buildTimeline, type Timeline } from './timeline';

export interface LabBackendOptions {
  store: ExecutionStore;
  /** Loaded only when a command starts or redrives (it builds the engine). */
  runtime: () => Promise<LabRuntime>;
  /** Absent in tests without a lab: status then comes from the state file only. */
  world?: LabWorld;
  identity: { account: string; region: string };
  /** Where instances are looked up (default: the lab world's state file). */
  describeInstance?: (instanceId: string) => Promise<InstanceInfo | undefined>;
  statusPrefix: string;
  now?: () => Date;
}

const asWorkflow = (w: string): Workflow => (Workflows as readonly string[]).includes(w) ? (w as Workflow) : 'join';

export function detailOf(r: ExecutionRecord): ExecutionDetail {
  const last = r.redrives[r.redrives.length - 1];
  return {
    id: r.executionArn,
    name: r.name,
    workflow: asWorkflow(r.workflow),
    status: r.status,
    startDate: new Date(r.startDate),
    stopDate: r.stopDate ? new Date(r.stopDate) : undefined,
    instanceId: instanceFromName(r.name) ?? instanceFromInput(r.input),
    failedState: r.failedState,
    error: r.error,
    cause: r.cause,
    input: r.input,
    output: r.output,
    redriveCount: r.redriveCount,
    redriveDate: last ? new Date(last.date) : undefined,
  };
}

const summaryOf = (r: ExecutionRecord): ExecutionSummary => {
  const d = detailOf(r);
  return {
    id: d.id,
    name: d.name,
    workflow: d.workflow,
    status: d.status,
    startDate: d.startDate,
    stopDate: d.stopDate,
    instanceId: d.instanceId,
    failedState: d.failedState,
    error: d.error,
    redriveCount: d.redriveCount,
  };
};

const text = (v: unknown): string | undefined => (v === undefined ? undefined : JSON.stringify(v));

/**
 * The engine's event log in GetExecutionHistory's shape, so one timeline builder reads both.
 * Each task attempt becomes LambdaFunctionScheduled (+ Failed / Succeeded), tied to its state
 * visit by previousEventId; a caught error closes its state like an exit after a failure.
 */
export function historyOf(record: ExecutionRecord): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const entered = new Map<string, { id: number; type: string }>();
  const key = (e: ExecutionEvent): string => `${e.part}/${e.index ?? ''}/${e.parent ?? ''}/${e.state ?? ''}`;
  const push = (e: ExecutionEvent, h: Omit<HistoryEvent, 'id' | 'timestamp'>): number => {
    const id = out.length + 1;
    out.push({ id, timestamp: new Date(e.time), ...h });
    return id;
  };
  for (const e of record.events) {
    const name = e.state ?? '';
    switch (e.type) {
      case 'ExecutionStarted':
        push(e, { type: 'ExecutionStarted', executionStartedEventDetails: { input: text(e.input ?? record.input) } });
        break;
      case 'ExecutionRedriven':
        push(e, { type: 'ExecutionRedriven', executionRedrivenEventDetails: { redriveCount: e.part } });
        break;
      case 'ExecutionSucceeded':
        push(e, { type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: text(e.output ?? record.output) } });
        break;
      case 'ExecutionFailed':
        push(e, { type: 'ExecutionFailed', executionFailedEventDetails: { error: e.error, cause: e.cause } });
        break;
      case 'ExecutionTimedOut':
        push(e, { type: 'ExecutionTimedOut', executionTimedOutEventDetails: { error: e.error ?? 'States.Timeout', cause: e.cause } });
        break;
      case 'ExecutionAborted':
        push(e, { type: 'ExecutionAborted', executionAbortedEventDetails: { error: e.error, cause: e.cause } });
        break;
      case 'StateEntered': {
        const type = e.stateType ?? 'Task';
        const id = push(e, { type: `${type}StateEntered` as HistoryEvent['type'], stateEnteredEventDetails: { name, input: text(e.input) } });
        entered.set(key(e), { id, type });
        if (type === 'Task') push(e, { type: 'LambdaFunctionScheduled', previousEventId: id });
        break;
      }
      case 'StateRetried': {
        const v = entered.get(key(e));
        if (v?.type === 'Task') push(e, { type: 'LambdaFunctionScheduled', previousEventId: v.id });
        break;
      }
      case 'StateFailed': {
        const v = entered.get(key(e));
        if (v === undefined) break;
        if (v.type === 'Task') push(e, { type: 'LambdaFunctionFailed', previousEventId: v.id, lambdaFunctionFailedEventDetails: { error: e.error, cause: e.cause } });
        else push(e, { type: 'EvaluationFailed', previousEventId: v.id, evaluationFailedEventDetails: { state: name, error: e.error, cause: e.cause } });
        break;
      }
      case 'StateCaught':
      case 'StateExited': {
        const v = entered.get(key(e));
        if (v === undefined) break;
        if (e.type === 'StateExited' && v.type === 'Task') push(e, { type: 'LambdaFunctionSucceeded', previousEventId: v.id, lambdaFunctionSucceededEventDetails: { output: text(e.output) } });
        push(e, { type: `${v.type}StateExited` as HistoryEvent['type'], previousEventId: v.id, stateExitedEventDetails: { name, output: text(e.output) } });
        entered.delete(key(e));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

export class LabBackend implements Backend {
  private readonly now: () => Date;
  private runtimePromise?: Promise<LabRuntime>;

  constructor(private readonly options: LabBackendOptions) {
    this.now = options.now ?? (() => new Date());
  }

  describeTarget(): string {
    return `lab (${this.options.store.dir})`;
  }

  /** Built once per process (synthesizing the state machines takes seconds). */
  private runtime(): Promise<LabRuntime> {
    this.runtimePromise ??= this.options.runtime();
    return this.runtimePromise;
  }

  listExecutions(query: ListQuery): Promise<ExecutionSummary[]> {
    if (query.status === 'PENDING_REDRIVE') return Promise.resolve([]);
    const status = query.status;
    return Promise.resolve(this.listNow({ ...query, status }));
  }

  private listNow(query: ListQuery & { status?: Exclude<ListQuery['status'], 'PENDING_REDRIVE'> }): ExecutionSummary[] {
    return this.options.store
      .list({ workflow: query.workflow, status: query.status })
      .map(summaryOf)
      .filter((s) => (query.since ? s.startDate >= query.since : true))
      .filter((s) => (query.instanceId ? s.instanceId === query.instanceId : true))
      .slice(0, query.limit);
  }

  private record(ref: string): ExecutionRecord {
    const name = ref.startsWith('arn:') ? (ref.split(':').pop() ?? ref) : ref;
    if (!/^[\w-]{1,80}$/.test(name)) throw usage(`Not an execution name or ARN: ${JSON.stringify(ref)}`);
    const record = ref.startsWith('arn:')
      ? this.options.store.list().find((r) => r.executionArn === ref) ?? this.options.store.get(name)
      : this.options.store.get(name);
    if (record === undefined) throw notFound(`No lab execution named ${JSON.stringify(name)} (store ${this.options.store.dir}).`, 'List them with `adjoin --local executions`.');
    return record;
  }

  describe(ref: string): Promise<ExecutionDetail> {
    return Promise.resolve(detailOf(this.record(ref)));
  }

  timeline(ref: string): Promise<{ execution: ExecutionDetail; timeline: Timeline }> {
    const record = this.record(ref);
    const execution = detailOf(record);
    const timeline = buildTimeline(historyOf(record));
    timeline.failedState ??= record.failedState;
    return Promise.resolve({ execution, timeline });
  }

  async redrive(ref: string): Promise<RedriveResult> {
    const record = this.record(ref);
    const runtime = await this.runtime();
    let after: ExecutionRecord;
    try {
      after = await runtime.redrive(record);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/ExecutionNotRedrivable/.test(message)) throw failed(`The lab refused to redrive ${record.name}: ${message}`);
      throw err;
    }
    const last = after.redrives[after.redrives.length - 1];
    return { id: after.executionArn, name: after.name, redriveDate: last ? new Date(last.date) : this.now() };
  }

  async start(request: StartRequest): Promise<StartResult> {
    let input: unknown;
    if (request.workflow === 'reconcile') {
      input = request.dryRun ? { dryRun: true } : {};
    } else {
      if (!request.instanceId) throw usage(`${request.workflow} needs an instance ID`);
      const where = { instanceId: request.instanceId, account: request.account ?? this.options.identity.account, region: request.region ?? this.options.identity.region, time: this.now() };
      input =
        request.lifecycle && request.workflow === 'join'
          ? lifecycleLaunchEvent({ ...where, action: request.lifecycle })
          : ec2StateEvent({ ...where, state: eventStateFor(request.workflow) });
    }
    const runtime = await this.runtime();
    const record = await runtime.start(request.workflow, input, executionName(request.workflow, request.instanceId, this.now()));
    return { execution: summaryOf(record), input };
  }

  async instanceStatus(instanceId: string, options: { executions: number }): Promise<InstanceStatus> {
    const prefix = this.options.statusPrefix;
    const state = readState();
    const info = await (this.options.describeInstance ?? labInstance)(instanceId);
    const status: InstanceStatus = {
      instanceId,
      found: info !== undefined,
      state: info?.state,
      platform: info?.platform,
      privateDnsName: info?.privateDnsName,
      launchTime: info?.launchTime,
      tags: { ...(info?.tags ?? {}) },
      statusTags: {},
      statusPrefix: prefix,
      executions: await this.listExecutions({ instanceId, limit: options.executions }),
    };
    for (const [k, v] of Object.entries(status.tags)) if (k.startsWith(prefix)) status.statusTags[k] = v;
    const computers = await this.computers(instanceId, state?.account ?? this.options.identity.account, state?.region ?? this.options.identity.region);
    if (computers !== undefined) status.computers = computers;
    return status;
  }

  /** Computer objects carrying this instance's marker, read from the DC (lab up and root only). */
  private async computers(instanceId: string, account: string, region: string): Promise<ComputerInfo[] | undefined> {
    const world = this.options.world;
    if (world === undefined || !(await world.isUp().catch(() => false))) return undefined;
    const state = readState();
    if (state === undefined) return undefined;
    const marker = formatMarker({ account, region, instanceId });
    const res = await world.dcLdapSearch(state.domain.baseDn, `(&(objectClass=computer)(msDS-cloudExtensionAttribute1=${marker}))`, [
      'cn',
      'description',
      'msDS-cloudExtensionAttribute1',
    ]);
    if (res.exitCode !== 0) return undefined;
    return parseLdif(res.stdout).map((entry) => ({
      dn: entry.dn ?? '',
      name: entry.cn ?? '',
      marker: entry['msDS-cloudExtensionAttribute1'],
      description: entry.description,
    }));
  }
}

/** An instance as the lab world's state file records it. */
function labInstance(instanceId: string): Promise<InstanceInfo | undefined> {
  const rec = readState()?.instances[instanceId];
  if (rec === undefined) return Promise.resolve(undefined);
  return Promise.resolve({ instanceId, state: rec.state, platform: 'linux', tags: rec.tags, privateDnsName: rec.privateDnsName, launchTime: new Date(rec.launchTime) });
}

/** Minimal LDIF reader for ldapsearch -LLL -o ldif-wrap=no output (single values; base64 decoded). */
export function parseLdif(ldif: string): Record<string, string>[] {
  const entries: Record<string, string>[] = [];
  for (const block of ldif.split(/\n\s*\n/)) {
    const entry: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([\w-]+)(::?) ?(.*)$/.exec(line);
      if (!m) continue;
      const [, attr = '', sep, value = ''] = m;
      entry[attr] = sep === '::' ? Buffer.from(value, 'base64').toString('utf8') : value;
    }
    if (entry.dn !== undefined) entries.push(entry);
  }
  return entries;
}
