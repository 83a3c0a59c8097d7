/**
 * Parsers for the join tasks' payloads (the state data of tasks/lib/contracts.ts). Each throws
 * InvalidInput naming the bad field; a task never acts on input it has not read this way.
 */
import type {
  CheckCommandInput,
  CheckCommandOutput,
  CommandRef,
  InstanceRef,
  PrepareComputerOutput,
  ReadInstanceInput,
  ReadInstanceOutput,
  RunCommandInput,
} from './contracts';
import { InvalidInput } from './errors';
import { parseEc2StateEvent } from './event';
import { ACCOUNT_ID, REGION } from './marker';
import { INSTANCE_ID, isValidComputerName } from './naming';
import type { CommandStatus } from './ports';

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
  return {
    ...parseInstanceRef(o, path),
    outcome: oneOf(o, 'outcome', path, ['proceed', 'skipped', 'already-joined', 'in-progress'] as const),
    reason: typeof o.reason === 'string' ? o.reason : '',
    platform: oneOf(o, 'platform', path, ['linux', 'windows'] as const),
    loginGroups: groups,
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

export function parseCommandRef(v: unknown, path = 'command'): CommandRef {
  const o = obj(v, path);
  const sentAt = str(o, 'sentAt', path);
  if (Number.isNaN(Date.parse(sentAt))) throw new InvalidInput(`${path}.sentAt: not an ISO time`);
  return {
    commandId: str(o, 'commandId', path, COMMAND_ID),
    document: oneOf(o, 'document', path, ['join', 'verify'] as const),
    sentAt,
    redriveCount: int(o, 'redriveCount', path),
  };
}

/** `previous`: {} (from "Begin"), null or missing mean "no previous command". */
export function parsePrevious(v: unknown, path = 'previous'): CheckCommandOutput | undefined {
  if (v === undefined || v === null) return undefined;
  const o = obj(v, path);
  if (Object.keys(o).length === 0) return undefined;
  return {
    commandId: str(o, 'commandId', path, COMMAND_ID),
    document: oneOf(o, 'document', path, ['join', 'verify'] as const),
    redriveCount: int(o, 'redriveCount', path),
    state: oneOf(o, 'state', path, ['running', 'succeeded', 'failed'] as const),
    status: oneOf(o, 'status', path, STATUSES),
    ...(typeof o.exitCode === 'number' ? { exitCode: o.exitCode } : {}),
    output: typeof o.output === 'string' ? o.output : '',
  };
}

export function parseReadInstanceInput(raw: unknown): ReadInstanceInput {
  const o = obj(raw, 'input');
  return { event: parseEc2StateEvent(o.event), executionName: parseExecutionName(o) };
}

export function parseInstanceOnly(raw: unknown): { instance: ReadInstanceOutput } {
  return { instance: parseInstance(obj(raw, 'input').instance) };
}

export function parseInstanceAndExecution(raw: unknown): { instance: ReadInstanceOutput; executionName: string } {
  const o = obj(raw, 'input');
  return { instance: parseInstance(o.instance), executionName: parseExecutionName(o) };
}

export function parseRunCommandInput(raw: unknown): RunCommandInput {
  const o = obj(raw, 'input');
  const previous = parsePrevious(o.previous);
  return {
    instance: parseInstance(o.instance),
    computer: parseComputer(o.computer),
    ...(previous ? { previous } : {}),
    redriveCount: o.redriveCount === undefined || o.redriveCount === null ? 0 : int(o, 'redriveCount', 'input'),
    executionName: parseExecutionName(o),
  };
}

export function parseCheckCommandInput(raw: unknown): CheckCommandInput {
  const o = obj(raw, 'input');
  return { instance: parseInstanceRef(o.instance), command: parseCommandRef(o.command) };
}

export interface RecordResultInput {
  instance: ReadInstanceOutput;
  computer: PrepareComputerOutput;
  executionName: string;
}
export function parseRecordResultInput(raw: unknown): RecordResultInput {
  const o = obj(raw, 'input');
  return { instance: parseInstance(o.instance), computer: parseComputer(o.computer), executionName: parseExecutionName(o) };
}

export interface CompensationInput {
  instance: InstanceRef;
  /** The caught error ({Error, Cause} from a Catch with ResultPath $.error). */
  error?: { Error?: string; Cause?: string };
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
  return { instance: parseInstanceRef(o.instance), ...(error ? { error } : {}) };
}
