/**
 * `adjoin doctor`: checks a deployment end to end (the "Check setup" Lambda, invoked inside the
 * VPC) or the lab (`--local`: the same checks of tasks/lib/doctor.ts over the lab's ports), and
 * prints each check as `✓ name  detail` or `✗ name  detail` with `  fix: …`. Exit 0 when every
 * check passed, 1 when any failed (cli/exit.ts); `--json` prints the report.
 */
import type { Command } from 'commander';
import type { CheckResult, DoctorReport, Target } from '../tasks/lib/doctor';
import { validateAccount, validateInstanceId, validateRegion } from './ec2-event';
import { Exit, failed, usage, type ExitCode } from './exit';
import { visibleLength, type Style } from './format';

export interface DoctorRequest {
  local: boolean;
  region?: string;
  profile?: string;
  /** The deployment's resource prefix (its state machines and rules are named after it). */
  prefix: string;
  /** The check-setup function (default `<prefix>-check-setup`). */
  functionName: string;
  instance?: { instanceId: string; account?: string; region?: string };
  targets: Target[];
}

/** Runs the checks for a request (AWS: cli/doctor-aws.ts; lab: cli/doctor-lab.ts). */
export type DoctorSource = (request: DoctorRequest) => Promise<DoctorReport>;

export interface DoctorCommandDeps {
  io: { out(t: string): void };
  source(): DoctorSource;
  context(cmd: Command): { style: Style; json: boolean; local: boolean; region?: string; profile?: string };
  setExit(code: ExitCode): void;
}

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

function collectTarget(value: string, previous: Target[]): Target[] {
  const m = /^(\d{12})[:/]([a-z0-9-]+)$/.exec(value.trim());
  if (!m) throw usage(`--target: expected ACCOUNT:REGION, got ${JSON.stringify(value)}`);
  return [...previous, { account: validateAccount(m[1] ?? ''), region: validateRegion(m[2] ?? '') }];
}

/** One line per check, fixes under failed ones, and a summary. */
export function renderReport(report: DoctorReport, style: Style): string {
  const width = Math.max(0, ...report.checks.map((c) => visibleLength(c.name)));
  const line = (c: CheckResult): string[] => {
    const mark = c.ok ? style.green('✓') : style.red('✗');
    const head = `${mark} ${c.name}${' '.repeat(width - visibleLength(c.name))}  ${c.detail}`.replace(/\s+$/, '');
    return c.ok ? [head] : [head, `  ${style.yellow('fix:')} ${c.fix}`];
  };
  const bad = report.checks.filter((c) => !c.ok).length;
  const summary = bad === 0 ? style.green(`All ${report.checks.length} checks passed.`) : style.red(`${bad} of ${report.checks.length} checks failed.`);
  return [...report.checks.flatMap(line), '', summary].join('\n');
}

export function addDoctorCommand(program: Command, deps: DoctorCommandDeps): void {
  program
    .command('doctor')
    .description('Check a deployment end to end (DNS, TCP 636, TLS, bind, OU rights, DNS rights, AWS endpoints, the claims table, member roles, the join-cleanup machine and rule; --instance: one instance), or the lab with --local.')
    .option('--instance <instance-id>', 'also check this instance: SSM Online, agent version, tags, instance profile, platform', validateInstanceId)
    .option('--account <id>', 'with --instance: its account (default: the caller\u2019s)', validateAccount)
    .option('--instance-region <region>', 'with --instance: its Region (default: the client Region)', validateRegion)
    .option('--target <account:region>', 'a member account and Region whose role must be assumable (repeatable)', collectTarget, [] as Target[])
    .option('--prefix <prefix>', 'resource prefix of the deployment (function <prefix>-check-setup)', 'adjoin')
    .option('--function <name>', 'the check-setup function name or ARN (instead of <prefix>-check-setup)')
    .addHelpText('after', examples('adjoin doctor', 'adjoin doctor --instance i-0123456789abcdef0', 'adjoin doctor --target 222222222222:eu-west-1 --json', 'adjoin --local doctor'))
    .action(async (opts: { instance?: string; account?: string; instanceRegion?: string; target: Target[]; prefix: string; function?: string }, cmd: Command) => {
      const c = deps.context(cmd);
      if (!/^[A-Za-z0-9-]{1,40}$/.test(opts.prefix)) throw usage(`--prefix: not a resource prefix: ${JSON.stringify(opts.prefix)}`);
      if (opts.instance === undefined && (opts.account !== undefined || opts.instanceRegion !== undefined)) throw usage('--account and --instance-region go with --instance.');
      const request: DoctorRequest = {
        local: c.local,
        ...(c.region !== undefined ? { region: c.region } : {}),
        ...(c.profile !== undefined ? { profile: c.profile } : {}),
        prefix: opts.prefix,
        functionName: opts.function ?? `${opts.prefix}-check-setup`,
        ...(opts.instance !== undefined
          ? { instance: { instanceId: opts.instance, ...(opts.account ? { account: opts.account } : {}), ...(opts.instanceRegion ? { region: opts.instanceRegion } : {}) } }
          : {}),
        targets: opts.target,
      };
      const report = await deps.source()(request);
      if (!Array.isArray(report.checks)) throw failed('The check-setup function returned no checks.');
      deps.io.out(c.json ? JSON.stringify(report, null, 2) : renderReport(report, c.style));
      deps.setExit(report.checks.every((x) => x.ok) ? Exit.ok : Exit.failed);
    });
}
