/**
 * A small EventBridge event-pattern matcher for the operators adjoin's rules use, so tests can
 * evaluate a synthesized pattern against sample events offline (TestEventPattern needs AWS).
 *
 *   exact values (string, number, boolean, null) in a list — a field that is an array matches
 *   when any element matches; { "equals-ignore-case": s }; { "prefix": s }; { "anything-but": [..] };
 *   { "exists": bool }; nested objects; "$or": [patterns] (at any level).
 * Anything else throws, so a rule that starts using another operator fails its test loudly.
 */
type Json = unknown;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** CDK writes detailType; EventBridge reads detail-type. */
export function normalise(pattern: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pattern)) out[k === 'detailType' ? 'detail-type' : k] = v;
  return out;
}

function matchValue(condition: Json, value: Json, present: boolean): boolean {
  if (isObj(condition)) {
    const [op, arg, ...rest] = Object.entries(condition).flat();
    if (rest.length > 0) throw new Error(`unsupported: more than one operator in ${JSON.stringify(condition)}`);
    const values = Array.isArray(value) ? value : [value];
    switch (op) {
      case 'exists':
        return arg === present;
      case 'equals-ignore-case':
        return present && values.some((v) => typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase());
      case 'prefix':
        return present && values.some((v) => typeof v === 'string' && typeof arg === 'string' && v.startsWith(arg));
      case 'anything-but':
        return present && values.every((v) => !(Array.isArray(arg) ? arg : [arg]).includes(v));
      default:
        throw new Error(`unsupported operator ${String(op)}`);
    }
  }
  if (!present) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => v === condition);
}

/** Does `event` match `pattern` (EventBridge semantics for the operators above)? */
export function matches(pattern: Record<string, unknown>, event: Json): boolean {
  for (const [key, condition] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(condition)) throw new Error('$or must be a list');
      if (!condition.some((p) => isObj(p) && matches(p, event))) return false;
      continue;
    }
    const present = isObj(event) && key in event;
    const value = isObj(event) ? event[key] : undefined;
    if (Array.isArray(condition)) {
      if (!condition.some((c) => matchValue(c, value, present))) return false;
    } else if (isObj(condition)) {
      if (!present || !isObj(value) || !matches(condition, value)) return false;
    } else throw new Error(`pattern value of ${key} must be a list or an object`);
  }
  return true;
}
