/**
 * Plain ASL as JSON, walked without trusting its shape, and the refusal of every feature that
 * aws-local-stepfunctions 3.0.0 would silently ignore or mishandle (engine/README.md, "Facts the
 * code relies on"). A definition
 * the engine cannot run faithfully must fail loudly here, naming the state and the field, never
 * run "green" with half its behaviour missing.
 */
import { ConfigurationError } from '../tasks/lib/errors';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** An ASL state, loosely typed: only the fields the local runtime reads. */
export interface AslState extends JsonObject {
  Type: string;
}
export interface AslDefinition extends JsonObject {
  StartAt: string;
  States: { [name: string]: AslState };
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep copy of plain JSON (the engine's validator mutates what it is given). */
export const cloneJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Checks the top-level shape (StartAt, States) and returns the definition typed. */
export function asDefinition(raw: unknown, label: string): AslDefinition {
  const text = typeof raw === 'string' ? raw : undefined;
  const value: unknown = text !== undefined ? JSON.parse(text) : raw;
  if (!isObject(value) || typeof value.StartAt !== 'string' || !isObject(value.States))
    throw new ConfigurationError([`${label}: not an ASL definition (StartAt and States are required)`]);
  for (const [name, state] of Object.entries(value.States))
    if (!isObject(state) || typeof state.Type !== 'string')
      throw new ConfigurationError([`${label}: state "${name}" has no Type`]);
  return value as AslDefinition;
}

/** A state and where it sits: top level, or inside a Map / Parallel. */
export interface StateRef {
  name: string;
  state: AslState;
  /** The names of the enclosing Map/Parallel states, outermost first ([] = top level). */
  parents: string[];
}

/** Every state of the definition, nested ones included, in definition order. */
export function allStates(def: AslDefinition, parents: string[] = []): StateRef[] {
  const out: StateRef[] = [];
  for (const [name, state] of Object.entries(def.States)) {
    out.push({ name, state, parents });
    for (const sub of subMachines(state)) out.push(...allStates(sub, [...parents, name]));
  }
  return out;
}

/** The nested machines of a Map (ItemProcessor / Iterator) or Parallel (Branches). */
export function subMachines(state: AslState): AslDefinition[] {
  const subs: Json[] = [];
  if (state.Type === 'Map') {
    if (state.ItemProcessor !== undefined) subs.push(state.ItemProcessor);
    if (state.Iterator !== undefined) subs.push(state.Iterator);
  }
  if (state.Type === 'Parallel' && Array.isArray(state.Branches)) subs.push(...state.Branches);
  return subs.filter((s): s is AslDefinition => isObject(s) && isObject(s.States));
}

/** Every string anywhere inside a JSON value (keys included), with the key path. */
function strings(v: Json, path: string, out: { path: string; text: string }[]): void {
  if (typeof v === 'string') out.push({ path, text: v });
  else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${path}[${i}]`, out));
  else if (isObject(v))
    for (const [k, x] of Object.entries(v)) {
      out.push({ path: `${path}.${k}`, text: k });
      strings(x, `${path}.${k}`, out);
    }
}

/** Fields of a state that belong to its nested machines (checked on their own). */
const NESTED_FIELDS = new Set(['ItemProcessor', 'Iterator', 'Branches']);

/**
 * Every problem that makes a definition unsafe to run locally. Empty when the engine can run it
 * faithfully. Each problem names the state (with its enclosing states) and the field.
 */
export function unsupportedFeatures(def: AslDefinition, label = 'definition'): string[] {
  const problems: string[] = [];
  const top = (field: string, why: string): void => {
    problems.push(`${label}: top-level field ${field}: ${why}`);
  };
  if (def.QueryLanguage !== undefined && def.QueryLanguage !== 'JSONPath')
    top('QueryLanguage', `${JSON.stringify(def.QueryLanguage)} is not supported by the local engine (JSONata is silently ignored); write the machine in JSONPath`);

  const names = new Map<string, string[]>();
  for (const { name, state, parents } of allStates(def)) {
    const where = `${label}: state "${[...parents, name].join(' / ')}"`;
    const bad = (field: string, why: string): void => {
      problems.push(`${where}: field ${field}: ${why}`);
    };
    const seen = names.get(name);
    if (seen !== undefined)
      bad('(name)', `the name is also used in "${[...seen, name].join(' / ')}"; the local engine maps handlers and overrides by state name, so names must be unique`);
    names.set(name, parents);

    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath')
      bad('QueryLanguage', `${JSON.stringify(state.QueryLanguage)} is not supported (JSONata is silently ignored by the local engine)`);
    for (const f of ['Assign', 'Output', 'Arguments'])
      if (state[f] !== undefined) bad(f, 'is a JSONata/variables field the local engine silently ignores');
    for (const f of ['HeartbeatSeconds', 'HeartbeatSecondsPath'])
      if (state[f] !== undefined) bad(f, 'heartbeats are not supported by the local engine (silently ignored)');
    if (state.Credentials !== undefined) bad('Credentials', 'cross-account task credentials are ignored by the local engine');

    if (typeof state.Resource === 'string' && /\.(waitForTaskToken|sync)(:\d+)?$/.test(state.Resource))
      bad('Resource', `${state.Resource}: .waitForTaskToken / .sync integrations are not supported by the local engine`);

    for (const rule of [...arr(state.Catch), ...arr(state.Choices)])
      if (isObject(rule) && rule.Assign !== undefined) bad('Assign', 'in a Catch or Choice rule: variables are not supported by the local engine');
    for (const rule of arr(state.Choices))
      if (isObject(rule) && rule.Condition !== undefined) bad('Choices[].Condition', 'is a JSONata condition the local engine ignores');

    if (state.Type === 'Map') {
      const proc = state.ItemProcessor;
      if (isObject(proc) && isObject(proc.ProcessorConfig) && proc.ProcessorConfig.Mode === 'DISTRIBUTED')
        bad('ItemProcessor.ProcessorConfig.Mode', 'DISTRIBUTED Map is not supported by the local engine');
      for (const f of ['ItemReader', 'ResultWriter', 'ItemBatcher', 'ToleratedFailurePercentage', 'ToleratedFailurePercentagePath', 'ToleratedFailureCount', 'ToleratedFailureCountPath', 'Label'])
        if (state[f] !== undefined) bad(f, 'is a Distributed Map field the local engine does not support');
      if (state.Items !== undefined) bad('Items', 'is a JSONata Map field the local engine ignores (use ItemsPath)');
    }
    if (state.Type === 'Fail') {
      for (const f of ['CausePath', 'ErrorPath']) {
        const path = state[f];
        if (typeof path === 'string' && path.trim().startsWith('States.'))
          bad(f, 'intrinsic functions in Fail paths are not supported by the local engine');
      }
    }

    const texts: { path: string; text: string }[] = [];
    for (const [k, v] of Object.entries(state)) if (!NESTED_FIELDS.has(k) && k !== 'Comment') strings(v, k, texts);
    for (const { path, text } of texts)
      if (/\$\$\.State\b/.test(text)) bad(path, `${JSON.stringify(text)}: $$.State is not provided by the local engine`);
    for (const { path, text } of texts)
      if (/^\{%[\s\S]*%\}$/.test(text.trim())) bad(path, `${JSON.stringify(text)}: a JSONata expression the local engine would treat as a plain string`);
  }
  return problems;
}

/** Throws ConfigurationError naming every unsupported feature; returns the definition otherwise. */
export function assertSupported(def: AslDefinition, label = 'definition'): AslDefinition {
  const problems = unsupportedFeatures(def, label);
  if (problems.length > 0) throw new ConfigurationError(problems);
  return def;
}

const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

/**
 * Evaluates the small JSONPath subset ASL reference paths use ($, $.a.b, $['a'], $.a[0]) — enough
 * for the engine's own bookkeeping (Wait SecondsPath, InputPath). Undefined when absent.
 */
export function readPath(root: Json | undefined, path: string): Json | undefined {
  if (path === '$') return root;
  if (!path.startsWith('$')) return undefined;
  const parts: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g;
  let m: RegExpExecArray | null;
  let consumed = 1;
  while ((m = re.exec(path)) !== null) {
    if (m.index !== consumed) return undefined;
    consumed = m.index + m[0].length;
    parts.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4] ?? '')));
  }
  if (consumed !== path.length) return undefined;
  let cur: Json | undefined = root;
  for (const p of parts) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}
