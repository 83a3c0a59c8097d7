/**
 * The `# param:` header lines of infra/documents/*.sh, read the same way by the document builder
 * (infra/documents.ts) and the lab's SSM agent (lab/fleet.ts). No CDK import: the lab loads it.
 *
 *   # param: Name | description | (required) | ^allowed-pattern$
 *   # param: Name | description | default    | ^allowed-pattern$   (the default may be empty)
 *
 * Every parameter MUST have an allowed pattern (the 4th field; it may itself hold '|'): SSM
 * refuses a SendCommand whose value does not match it (InvalidParameters), so no value reaches
 * the instance unchecked. A parameter without one is a ConfigurationError.
 */
import { ConfigurationError } from '../tasks/lib/errors';

/** The default field that marks a parameter as required. */
export const REQUIRED = '(required)';

export interface DocumentParameter {
  type: 'String';
  description: string;
  default?: string;
  allowedPattern: string;
  interpolationType: 'ENV_VAR';
}

/** Reads the `# param:` header lines of a script. */
export function parseParams(script: string, file = 'script'): Record<string, DocumentParameter> {
  const params: Record<string, DocumentParameter> = {};
  const problems: string[] = [];
  for (const line of script.split('\n')) {
    const m = /^#\s*param:\s*(.*)$/.exec(line.trim());
    if (!m || m[1] === undefined) continue;
    const fields = m[1].split('|');
    const [name, description, def] = fields.slice(0, 3).map((f) => f.trim());
    const pattern = fields.length > 3 ? fields.slice(3).join('|').trim() : '';
    if (!name || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name)) {
      problems.push(`${file}: "# param:" line with a bad name: ${JSON.stringify(line)}`);
      continue;
    }
    if (params[name]) problems.push(`${file}: parameter ${name} is declared twice`);
    if (!pattern) {
      problems.push(`${file}: parameter ${name} has no allowed pattern (4th field): every value must be checked by SSM before it is sent`);
      continue;
    }
    if (!pattern.startsWith('^') || !pattern.endsWith('$')) problems.push(`${file}: parameter ${name}: the allowed pattern must be anchored (^…$)`);
    try {
      new RegExp(pattern);
    } catch {
      problems.push(`${file}: parameter ${name}: the allowed pattern is not a regular expression`);
    }
    if (def !== undefined && def !== REQUIRED && !new RegExp(pattern).test(def))
      problems.push(`${file}: parameter ${name}: the default ${JSON.stringify(def)} does not match its own allowed pattern`);
    params[name] = {
      type: 'String',
      description: description || name,
      ...(def !== undefined && def !== REQUIRED ? { default: def } : {}),
      allowedPattern: pattern,
      interpolationType: 'ENV_VAR',
    };
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return params;
}
