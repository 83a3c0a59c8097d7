/**
 * Mermaid flowcharts generated from the synthesized ASL, so the README's diagrams cannot drift
 * from the state machines. `npm run docs` rewrites the blocks between the markers
 * `<!-- diagram:NAME -->` and `<!-- /diagram:NAME -->` in README.md; a test checks that the
 * README holds exactly what this prints.
 */
import { TransientErrors } from '../tasks/lib/errors';

interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string; [k: string]: unknown }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
}

export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
}

const COMPARATORS = [
  'StringEquals',
  'BooleanEquals',
  'NumericEquals',
  'IsPresent',
  'StringMatches',
  'NumericGreaterThan',
  'NumericLessThan',
] as const;

function choiceLabel(rule: Record<string, unknown>): string {
  for (const op of COMPARATORS) {
    if (op in rule) return String(rule[op]);
  }
  if (Array.isArray(rule.Or)) return (rule.Or as Record<string, unknown>[]).map(choiceLabel).join(' or ');
  if (Array.isArray(rule.And)) return (rule.And as Record<string, unknown>[]).map(choiceLabel).join(' and ');
  return 'when';
}

/** One flowchart, top to bottom. Node ids are stable (s0, s1, … in definition order). */
export function toMermaid(machine: AslMachine): string {
  const lines: string[] = ['flowchart TD'];
  const ids = new Map<string, string>();
  let counter = 0;
  const idOf = (name: string): string => {
    let id = ids.get(name);
    if (!id) {
      id = `s${counter++}`;
      ids.set(name, id);
    }
    return id;
  };
  const quote = (s: string): string => s.replace(/"/g, "'");

  const walk = (m: AslMachine, indent: string): void => {
    for (const [name, state] of Object.entries(m.States)) {
      const id = idOf(name);
      // Every task retries the transient errors and Lambda's service errors: show only the rest.
      const retries = (state.Retry ?? [])
        .flatMap((r) => r.ErrorEquals)
        .filter((e) => !e.startsWith('Lambda.') && !(TransientErrors as string[]).includes(e));
      const label = retries.length > 0 ? `${name}<br/><small>retries ${retries.join(', ')}</small>` : name;
      switch (state.Type) {
        case 'Choice':
          lines.push(`${indent}${id}{"${quote(label)}"}`);
          break;
        case 'Succeed':
          lines.push(`${indent}${id}(["${quote(label)}"])`);
          break;
        case 'Fail':
          lines.push(`${indent}${id}[["${quote(label)}"]]`);
          break;
        case 'Wait':
          lines.push(`${indent}${id}[/"${quote(label)}"/]`);
          break;
        case 'Map':
        case 'Parallel': {
          const inner = state.ItemProcessor ?? state.Iterator;
          const subs = inner ? [inner] : (state.Branches ?? []);
          lines.push(`${indent}subgraph ${id}["${quote(label)}"]`);
          for (const sub of subs) walk(sub, `${indent}  `);
          lines.push(`${indent}end`);
          break;
        }
        default:
          lines.push(`${indent}${id}["${quote(label)}"]`);
      }
    }
    for (const [name, state] of Object.entries(m.States)) {
      const id = idOf(name);
      if (state.Next) lines.push(`${indent}${id} --> ${idOf(state.Next)}`);
      for (const c of state.Choices ?? []) lines.push(`${indent}${id} -->|${quote(choiceLabel(c))}| ${idOf(c.Next)}`);
      if (state.Default) lines.push(`${indent}${id} -->|otherwise| ${idOf(state.Default)}`);
      for (const c of state.Catch ?? []) lines.push(`${indent}${id} -.->|${quote(c.ErrorEquals.join(', '))}| ${idOf(c.Next)}`);
    }
  };
  walk(machine, '  ');
  return lines.join('\n');
}

/** Replaces each `<!-- diagram:NAME -->…<!-- /diagram:NAME -->` block in `text`. */
export function renderDiagrams(text: string, machines: Record<string, AslMachine>): string {
  let out = text;
  for (const [name, machine] of Object.entries(machines)) {
    const open = `<!-- diagram:${name} -->`;
    const close = `<!-- /diagram:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) continue;
    const block = `${open}\n\`\`\`mermaid\n${toMermaid(machine)}\n\`\`\`\n${close}`;
    out = out.slice(0, start) + block + out.slice(end + close.length);
  }
  return out;
}
