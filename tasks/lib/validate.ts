/**
 * Every task's input parser (the state data of tasks/lib/contracts.ts), all built on the same
 * few helpers. Each throws InvalidInput naming the bad field; a task never acts on input it has
 * not read this way.
 */
import type {
  CheckCapInput,
  CleanupInput,
  CheckSsmAgentInput,
  CompensationInput,
  DeleteItemResult,
  DeleteObjectInput,
  Ec2StateEvent,
  FindObjectsEventInput,
  FindStaleInput,
  GuardOutput,
  InstanceRef,
  PrepareComputerInput,
  PrepareComputerOutput,
  ReadInstanceInput,
  ReadInstanceOutput,
  RecordLeaveInput,
  RecordResultInput,
  ReportInput,
  RunJoinInput,
  ScanOutput,
} from './contracts';
import { InvalidInput } from './errors';
import { ACCOUNT_ID, REGION } from './marker';
import { DIRECTORY_NAME, INSTANCE_ID, isValidComputerName } from './naming';
import type { CommandStatus, LifecycleAction } from './ports';

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string): Record<string, unknown> {
  if (!isObj(v)) throw new InvalidInput(`${path}: must be an object`);
  return v;
}
function str(o: Record<string, unknown>, key: string, path: string, re?: RegExp): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new InvalidInput(`${path}.${key}: must be a non-empty string`);
  if (re && !re.test(v)) throw new InvalidInput(`${path}.${key}: ${JSON.stringify(v.slice(0, 80))} is not valid`);
  return v;
}
function int(o: Record<string, unknown>, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidInput(`${path}.${key}: must be a whole number >= 0`);
  return v;
}
function oneOf<T extends string>(o: Record<string, unknown>, key: string, path: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    throw new InvalidInput(`${path}.${key}: must be one of ${values.join(', ')}`);
  return v as T;
}
function strList(o: Record<string, unknown>, key: string, path: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidInput(`${path}.${key}: must be a list of strings`);
  return v as string[];
}
/** A number >= 0 (not necessarily whole), or undefined when absent or null. */
function optNonNegative(o: Record<string, unknown>, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidInput(`${path}.${key}: must be a number >= 0, got ${show(v)}`);
  return v;
}

// ---- the EC2 state-change event -------------------------------------------------------------

export const EC2_SOURCE = 'aws.ec2';
export const EC2_STATE_CHANGE = 'EC2 Instance State-change Notification';
const EC2_STATES = new Set(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']);

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
};

/**
 * The EventBridge EC2 state-change event that starts a join (or a leave): validated before
 * anything is done, so a malformed or hostile event fails with InvalidInput (listing every
 * problem) and no side effect.
 */
export function parseEc2StateEvent(raw: unknown): Ec2StateEvent {
  if (!isObj(raw)) throw new InvalidInput('event: must be an EventBridge event object');
  const problems: string[] = [];
  if (raw.source !== EC2_SOURCE) problems.push(`source: expected ${EC2_SOURCE}, got ${show(raw.source)}`);
  if (raw['detail-type'] !== EC2_STATE_CHANGE) problems.push(`detail-type: expected "${EC2_STATE_CHANGE}", got ${show(raw['detail-type'])}`);
  if (typeof raw.account !== 'string' || !ACCOUNT_ID.test(raw.account)) problems.push(`account: not a 12-digit account ID: ${show(raw.account)}`);
  if (typeof raw.region !== 'string' || !REGION.test(raw.region)) problems.push(`region: not a Region name: ${show(raw.region)}`);
  const detail = raw.detail;
  if (!isObj(detail)) problems.push('detail: missing');
  else {
    if (typeof detail['instance-id'] !== 'string' || !INSTANCE_ID.test(detail['instance-id']))
      problems.push(`detail.instance-id: not an instance ID: ${show(detail['instance-id'])}`);
    if (typeof detail.state !== 'string' || !EC2_STATES.has(detail.state)) problems.push(`detail.state: not an instance state: ${show(detail.state)}`);
  }
  if (problems.length > 0) throw new InvalidInput(`Invalid EC2 event: ${problems.join('; ')}`);
  return raw as unknown as Ec2StateEvent;
}

/** The instance an EC2 event names. */
export const instanceOfEvent = (event: Ec2StateEvent): InstanceRef => ({
  instanceId: event.detail['instance-id'],
  account: event.account,
  region: event.region,
});

// ---- state data pieces ----------------------------------------------------------------------

/**
 * Step Functions execution names: 1-80 characters, none of white space, brackets `< > { } [ ]`,
 * wildcards `? *`, `" # % \ ^ | ~ \` $ & , ; : /`, or control characters (the service's rule).
 */
export const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

export function parseExecutionName(raw: Record<string, unknown>): string {
  return str(raw, 'executionName', 'input', EXECUTION_NAME);
}

export function parseInstanceRef(v: unknown, path = 'instance'): InstanceRef {
  const o = obj(v, path);
  return {
    instanceId: str(o, 'instanceId', path, INSTANCE_ID),
    account: str(o, 'account', path, ACCOUNT_ID),
    region: str(o, 'region', path, REGION),
  };
}

/** $.instance as written by "Read instance". */
export function parseInstance(v: unknown, path = 'instance'): ReadInstanceOutput {
  const o = obj(v, path);
  const groups = strList(o, 'loginGroups', path);
  const lifecycle = parseLifecycleAction(o.lifecycle, `${path}.lifecycle`);
  return {
    ...parseInstanceRef(o, path),
    outcome: oneOf(o, 'outcome', path, ['proceed', 'skipped', 'already-joined', 'in-progress'] as const),
    reason: typeof o.reason === 'string' ? o.reason : '',
    platform: oneOf(o, 'platform', path, ['linux', 'windows'] as const),
    loginGroups: groups,
    ...(lifecycle ? { lifecycle } : {}),
    ...parseRouted(o, path),
  };
}

/** $.instance.directory / computerOu (routing), when present. */
function parseRouted(o: Record<string, unknown>, path: string): { directory?: string; computerOu?: string } {
  return {
    ...(o.directory === undefined ? {} : { directory: str(o, 'directory', path, DIRECTORY_NAME) }),
    ...(o.computerOu === undefined ? {} : { computerOu: str(o, 'computerOu', path, /^[^\p{Cc}]{1,1024}$/u) }),
  };
}

export function parseComputer(v: unknown, path = 'computer'): PrepareComputerOutput {
  const o = obj(v, path);
  const name = str(o, 'name', path);
  if (!isValidComputerName(name)) throw new InvalidInput(`${path}.name: ${JSON.stringify(name.slice(0, 20))} is not a valid computer name`);
  return {
    name,
    dn: str(o, 'dn', path),
    fqdn: str(o, 'fqdn', path, /^[a-z0-9.-]{1,253}$/),
    action: oneOf(o, 'action', path, ['created', 'reused'] as const),
    secretName: str(o, 'secretName', path, /^\/[A-Za-z0-9_.\-/]{1,1000}$/),
    ...(o.domainController === undefined ? {} : { domainController: str(o, 'domainController', path, /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/) }),
  };
}

const STATUSES: readonly CommandStatus[] = [
  'Pending', 'InProgress', 'Delayed', 'Success', 'Failed', 'TimedOut', 'Cancelled', 'Cancelling', 'Undeliverable', 'Terminated',
];
const COMMAND_ID = /^[A-Za-z0-9-]{1,64}$/;
export const isCommandStatus = (v: unknown): v is CommandStatus => typeof v === 'string' && (STATUSES as readonly string[]).includes(v);

/** A list of "Delete computer object" Map item results; absent or null is an empty list. */
export function parseDeleteItemResults(raw: unknown, path: string): DeleteItemResult[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InvalidInput(`${path}: must be a list of delete results`);
  return raw.map((v, k): DeleteItemResult => {
    const r = obj(v, `${path}[${k}]`);
    const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
    const out: DeleteItemResult = {};
    if (text(r.dn) !== undefined) out.dn = text(r.dn);
    if (typeof r.deleted === 'boolean') out.deleted = r.deleted;
    if (typeof r.dnsRecordsRemoved === 'number') out.dnsRecordsRemoved = r.dnsRecordsRemoved;
    if (text(r.reason) !== undefined) out.reason = text(r.reason);
    if (r.outcome === 'skipped' || r.outcome === 'failed') out.outcome = r.outcome;
    if (text(r.error) !== undefined) out.error = text(r.error);
    if (r.dnsFailed === true) out.dnsFailed = true;
    if (text(r.dnsReason) !== undefined) out.dnsReason = text(r.dnsReason);
    return out;
  });
}

/** $.scan as written by "Find stale objects" (the fields the later states read). */
export function parseScan(v: unknown, path = 'scan'): ScanOutput {
  const o = obj(v, path);
  if (typeof o.dryRun !== 'boolean') throw new InvalidInput(`${path}.dryRun: must be true or false`);
  int(o, 'stale', path);
  int(o, 'notListed', path);
  if (!Array.isArray(o.staleList)) throw new InvalidInput(`${path}.staleList: must be a list`);
  return o as unknown as ScanOutput;
}

/** $.guard as written by "Check deletion cap". */
export function parseGuard(v: unknown, path = 'guard'): GuardOutput {
  const o = obj(v, path);
  if (typeof o.dryRun !== 'boolean' || typeof o.capExceeded !== 'boolean')
    throw new InvalidInput(`${path}: not the output of "Check deletion cap" (dryRun and capExceeded must be true or false)`);
  return o as unknown as GuardOutput;
}

// ---- join -----------------------------------------------------------------------------------

/** The event itself is read by the domain function (tasks/lib/entry.ts parseEntry needs the tag settings). */
export function parseReadInstanceInput(raw: unknown): ReadInstanceInput {
  const o = obj(raw, 'input');
  return { event: obj(o.event, 'input.event'), executionName: parseExecutionName(o) };
}

export function parseCheckSsmAgentInput(raw: unknown): CheckSsmAgentInput {
  const o = obj(raw, 'input');
  return {
    instance: parseInstance(o.instance),
    ...(o.redriveCount === undefined || o.redriveCount === null ? {} : { redriveCount: int(o, 'redriveCount', 'input') }),
    ...(o.executionName === undefined ? {} : { executionName: parseExecutionName(o) }),
  };
}

export function parsePrepareComputerInput(raw: unknown): PrepareComputerInput {
  const o = obj(raw, 'input');
  return { instance: parseInstance(o.instance), executionName: parseExecutionName(o) };
}

export function parseRunJoinInput(raw: unknown): RunJoinInput {
  const o = obj(raw, 'input');
  return {
    instance: parseInstance(o.instance),
    computer: parseComputer(o.computer),
    redriveCount: o.redriveCount === undefined || o.redriveCount === null ? 0 : int(o, 'redriveCount', 'input'),
    executionName: parseExecutionName(o),
  };
}

export function parseRecordResultInput(raw: unknown): RecordResultInput {
  const o = obj(raw, 'input');
  const join = obj(o.join, 'input.join');
  return {
    instance: parseInstance(o.instance),
    computer: parseComputer(o.computer),
    join: { commandId: str(join, 'commandId', 'input.join', COMMAND_ID) },
    executionName: parseExecutionName(o),
  };
}

const END_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/** The join-cleanup input: a Step Functions status-change event's detail. */
export function parseCleanupInput(raw: unknown): CleanupInput {
  const o = obj(raw, 'input');
  const text = (k: string): string | undefined => {
    const v = o[k];
    return typeof v === 'string' ? v : undefined;
  };
  const error = text('error');
  const cause = text('cause');
  return {
    executionArn: str(o, 'executionArn', 'input', /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:[A-Za-z0-9_-]{1,80}$/),
    name: str(o, 'name', 'input', /^[A-Za-z0-9_-]{1,80}$/),
    status: oneOf(o, 'status', 'input', END_STATUSES),
    input: str(o, 'input', 'input'),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

export function parseCompensationInput(raw: unknown): CompensationInput {
  const o = obj(raw, 'input');
  const e = o.error;
  const error = isObj(e)
    ? {
        ...(typeof e.Error === 'string' ? { Error: e.Error } : {}),
        ...(typeof e.Cause === 'string' ? { Cause: e.Cause } : {}),
      }
    : undefined;
  const instance = obj(o.instance, 'instance');
  const lifecycle = parseLifecycleAction(instance.lifecycle, 'instance.lifecycle');
  return { instance: { ...parseInstanceRef(instance), ...(lifecycle ? { lifecycle } : {}), ...parseRouted(instance, 'instance') }, ...(error ? { error } : {}) };
}

// ---- leave ----------------------------------------------------------------------------------

/** An objectGUID in canonical form (8-4-4-4-12 hex digits). */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseGuid(v: unknown, path: string): string {
  if (typeof v !== 'string' || !GUID.test(v)) throw new InvalidInput(`${path}: not a GUID (8-4-4-4-12 hex digits): ${show(v)}`);
  return v.toLowerCase();
}

export function parseFindObjectsInput(raw: unknown): FindObjectsEventInput {
  const o = obj(raw, 'input');
  const expectedGuid = o.expectedGuid === undefined || o.expectedGuid === null ? undefined : parseGuid(o.expectedGuid, 'input.expectedGuid');
  return { event: obj(o.event, 'input.event'), ...(expectedGuid !== undefined ? { expectedGuid } : {}) };
}

/** Leave passes { object, instance }; reconcile adds graceSeconds. Extra fields of $.found are ignored. */
export function parseDeleteObjectInput(raw: unknown): DeleteObjectInput {
  const o = obj(raw, 'input');
  const item = obj(o.object, 'object');
  const graceSeconds = optNonNegative(o, 'graceSeconds', 'input');
  const guid = item.guid === undefined ? undefined : parseGuid(item.guid, 'object.guid');
  return {
    object: {
      dn: str(item, 'dn', 'object'),
      name: str(item, 'name', 'object'),
      ...(guid !== undefined ? { guid } : {}),
      ...(item.directory !== undefined ? { directory: str(item, 'directory', 'object', DIRECTORY_NAME) } : {}),
    },
    instance: { ...parseInstanceRef(o.instance), ...(optOutFlag(o.instance) ? { optOut: true } : {}) },
    ...(graceSeconds !== undefined ? { graceSeconds } : {}),
  };
}

export function parseRecordLeaveInput(raw: unknown): RecordLeaveInput {
  const o = obj(raw, 'input');
  const instance = obj(o.instance, 'instance');
  const lifecycle = parseLifecycleAction(instance.lifecycle, 'instance.lifecycle');
  const executionName = o.executionName === undefined ? undefined : parseExecutionName(o);
  return {
    instance: { ...parseInstanceRef(instance), ...(lifecycle ? { lifecycle } : {}), ...(optOutFlag(instance) ? { optOut: true } : {}) },
    deleted: parseDeleteItemResults(o.deleted, 'deleted'),
    ...(executionName ? { executionName } : {}),
  };
}

/** `optOut: true` on the leave's instance ($.found of an opt-out leave); anything else is false. */
const optOutFlag = (instance: unknown): boolean => isObj(instance) && instance.optOut === true;

// ---- reconcile ------------------------------------------------------------------------------

/** The execution input: {} or {"dryRun": true|false} (absent counts as {}). */
export function parseFindStaleInput(raw: unknown): FindStaleInput {
  const o = obj(raw, 'input');
  const input = obj(o.input ?? {}, 'input.input');
  const d = input.dryRun;
  if (d !== undefined && typeof d !== 'boolean') throw new InvalidInput(`input.input.dryRun: must be true or false, got ${show(d)}`);
  return d === undefined ? {} : { dryRun: d };
}

export function parseCheckCapInput(raw: unknown): CheckCapInput {
  return { scan: parseScan(obj(raw, 'input').scan) };
}

export function parseReportInput(raw: unknown): ReportInput {
  const o = obj(raw, 'input');
  return { scan: parseScan(o.scan), guard: parseGuard(o.guard), deleted: parseDeleteItemResults(o.deleted, 'deleted') };
}

/** Auto Scaling names and tokens as the lifecycle events carry them. */
export const ASG_NAME = /^[^\p{Cc}]{1,255}$/u;
export const HOOK_NAME = /^[A-Za-z0-9\-_/]{1,255}$/;
export const LIFECYCLE_TOKEN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * `lifecycle` as carried in state data ($.instance.lifecycle, $.found.lifecycle): absent or a
 * lifecycle action read by the same rules as the event's fields; anything else → InvalidInput.
 */
export function parseLifecycleAction(v: unknown, path: string): LifecycleAction | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new InvalidInput(`${path}: must be an object`);
  const bad = (key: string, re: RegExp): boolean => typeof v[key] !== 'string' || !re.test(v[key]);
  const wrong = [
    ...(bad('autoScalingGroupName', ASG_NAME) ? ['autoScalingGroupName'] : []),
    ...(bad('lifecycleHookName', HOOK_NAME) ? ['lifecycleHookName'] : []),
    ...(bad('lifecycleActionToken', LIFECYCLE_TOKEN) ? ['lifecycleActionToken'] : []),
    ...(v.transition !== 'launch' && v.transition !== 'terminate' ? ['transition'] : []),
  ];
  if (wrong.length > 0) throw new InvalidInput(`${path}: not a lifecycle action (bad ${wrong.join(', ')})`);
  return {
    autoScalingGroupName: v.autoScalingGroupName as string,
    lifecycleHookName: v.lifecycleHookName as string,
    lifecycleActionToken: v.lifecycleActionToken as string,
    transition: v.transition as 'launch' | 'terminate',
  };
}
