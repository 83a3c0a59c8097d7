/**
 * The `adjoin` command tree. Every command talks to a Backend (AWS or the lab) and never
 * branches on which; output is a table for people or JSON (--json) for scripts; failures are
 * one line on stderr and an exit code (cli/exit.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../package.json';
import { defaultTagSettings } from '../tasks/lib/settings';
import type { AwsBackendOptions } from './aws-backend';
import {
  Statuses,
  Workflows,
  type Backend,
  type ExecutionDetail,
  type ExecutionStatus,
  type ExecutionSummary,
  type Workflow,
} from './backend';
import { sleep as realSleep } from './concurrency';
import type { DirectoryService } from '../tasks/lib/ports';
import { addDirectoryInfoCommand } from './directory-info';
import { addDoctorCommand, type DoctorSource } from './doctor';
import { validateAccount, validateInstanceId, validateRegion } from './ec2-event';
import { Exit, classify, failed, usage, type ExitCode } from './exit';
import { absolute, colourEnabled, duration, makeStyle, parseSince, type Style } from './format';
import { addLabCommands, type LabControl } from './lab-commands';
import { redriveRefusal } from './redrive';
import { executionsTable, instanceStatusText, showExecution, statusText } from './render';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (colour, progress). */
  isTTY: boolean;
  /** stdin is a terminal (confirmation prompts). */
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  confirm(question: string): Promise<boolean>;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface GlobalOptions {
  local?: boolean;
  region?: string;
  profile?: string;
  stack: string;
  joinArn?: string;
  leaveArn?: string;
  reconcileArn?: string;
  tagPrefix: string;
  json?: boolean;
  debug?: boolean;
  color?: boolean;
}

export interface Targets {
  aws(options: AwsBackendOptions): Backend;
  lab(options: GlobalOptions): Promise<Backend>;
  labControl(options: GlobalOptions): Promise<LabControl>;
  /** `adjoin doctor`: the check-setup Lambda (AWS) or the lab's ports (--local). */
  doctor?(options: GlobalOptions): DoctorSource;
  /** `adjoin directory-info`: AWS Directory Service (tasks/adapters/ds-directory-service.ts). */
  directoryService?(options: GlobalOptions): DirectoryService;
}

/** Default status-tag prefix (tasks write <prefix>status, <prefix>computer-name, <prefix>execution). */
export const DEFAULT_TAG_PREFIX = defaultTagSettings().statusPrefix;

/** Default stack: the app names the orchestrator stack after resourcePrefix, default `adjoin` (test/infra/stack.test.ts checks). */
export const DEFAULT_STACK = 'adjoin';

const positiveInt =
  (what: string, max: number) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max) throw usage(`${what} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
    return n;
  };

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

interface Context {
  io: Io;
  style: Style;
  globals: GlobalOptions;
  backend(): Promise<Backend>;
  print(human: () => string, data: unknown): void;
}

/** Builds the program. `run` parses and maps every outcome to an exit code. */
export function buildProgram(io: Io, targets: Targets, setExit: (code: ExitCode) => void): Command {
  const program = new Command('adjoin');
  program
    .description('Operate adjoin: Active Directory join and leave for EC2, run by Step Functions (AWS or the local lab).')
    .version(version, '-V, --version')
    .option('--local', 'use the local lab (its engine and recorded executions) instead of AWS')
    .option('--region <region>', 'AWS Region (default: the standard chain: AWS_REGION, profile)')
    .option('--profile <name>', 'AWS profile (default: the standard chain)')
    .option('--stack <name>', 'stack whose outputs name the state machines (the app names it after resourcePrefix)', DEFAULT_STACK)
    .option('--join-arn <arn>', 'join state machine ARN (instead of the stack output JoinStateMachineArn)')
    .option('--leave-arn <arn>', 'leave state machine ARN (instead of LeaveStateMachineArn)')
    .option('--reconcile-arn <arn>', 'reconcile state machine ARN (instead of ReconcileStateMachineArn)')
    .option('--tag-prefix <prefix>', 'prefix of the status tags adjoin writes', DEFAULT_TAG_PREFIX)
    .option('--json', 'print JSON instead of tables')
    .option('--no-color', 'no colour (also: NO_COLOR=1, or output not a terminal)')
    .option('--debug', 'print stack traces of failures')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .addHelpText(
      'after',
      examples('adjoin executions --status FAILED --since 24h', 'adjoin show join-i-0123456789abcdef0-20261121T101500Z-ab12', 'adjoin --local lab up'),
    );

  const ctx = (cmd: Command): Context => {
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const style = makeStyle(globals.color !== false && !globals.json && colourEnabled(io.isTTY, io.env));
    let backend: Promise<Backend> | undefined;
    return {
      io,
      style,
      globals,
      backend: () => {
        backend ??= globals.local ? targets.lab(globals) : Promise.resolve(targets.aws(awsOptions(globals)));
        return backend;
      },
      print: (human, data) => io.out(globals.json ? JSON.stringify(data, null, 2) : human()),
    };
  };

  // ---- executions ---------------------------------------------------------------------------
  program
    .command('executions')
    .alias('ls')
    .description('List executions, newest first: name, workflow, instance, status, start, duration, failed state.')
    .addOption(new Option('--workflow <workflow>', 'only this workflow').choices(Workflows))
    .addOption(new Option('--status <status>', 'only this status').choices(Statuses))
    .option('--instance <instance-id>', 'only executions for this instance', validateInstanceId)
    .option('--since <age>', 'only executions started since (90s, 30m, 24h, 7d, or an ISO date)')
    .option('--limit <n>', 'at most this many (1-1000)', positiveInt('--limit', 1000), 50)
    .addHelpText('after', examples('adjoin executions --workflow join --status FAILED --since 24h', 'adjoin executions --instance i-0123456789abcdef0 --json'))
    .action(async (opts: { workflow?: Workflow; status?: ExecutionStatus; instance?: string; since?: string; limit: number }, cmd: Command) => {
      const c = ctx(cmd);
      const now = io.now();
      const since = opts.since === undefined ? undefined : sinceOf(opts.since, now);
      const items = await (await c.backend()).listExecutions({ workflow: opts.workflow, status: opts.status, instanceId: opts.instance, since, limit: opts.limit });
      c.print(() => executionsTable(items, now, c.style), items);
    });

  // ---- show -----------------------------------------------------------------------------------
  program
    .command('show')
    .alias('describe')
    .argument('<execution>', 'execution name or ARN')
    .description('An execution as a timeline: each state with start, time, retries, error and cause; the failing state marked.')
    .option('--io', 'include each state\u2019s input and output')
    .addHelpText('after', examples('adjoin show join-i-0123456789abcdef0-20261121T101500Z-ab12', 'adjoin show arn:aws:states:eu-west-1:123456789012:execution:adjoin-join:4f1c… --io'))
    .action(async (ref: string, opts: { io?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const { execution, timeline } = await (await c.backend()).timeline(ref);
      c.print(() => showExecution(execution, timeline, { io: opts.io === true, now: io.now(), local: c.globals.local === true }, c.style), { execution, timeline });
    });

  // ---- redrive --------------------------------------------------------------------------------
  program
    .command('redrive')
    .argument('[execution]', 'execution name or ARN (or use --failed)')
    .description('Redrive a failed execution from the state it failed in, or every failed one (--failed).')
    .option('--failed', 'redrive every FAILED / TIMED_OUT / ABORTED execution that can be redriven')
    .addOption(new Option('--workflow <workflow>', 'with --failed: only this workflow').choices(Workflows))
    .option('--since <age>', 'with --failed: only executions started since (default 14d: the redrive window)')
    .option('--limit <n>', 'with --failed: at most this many', positiveInt('--limit', 1000), 100)
    .option('-y, --yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--wait', 'single execution: follow it to the end and exit with its outcome')
    .option('--timeout <seconds>', 'with --wait: give up after this long', positiveInt('--timeout', 86400), 3600)
    .addHelpText('after', examples('adjoin redrive join-i-0123456789abcdef0-20261121T101500Z-ab12 --wait', 'adjoin redrive --failed --workflow join --since 24h', 'adjoin redrive --failed --yes --json'))
    .action(async (ref: string | undefined, opts: RedriveOptions, cmd: Command) => {
      const c = ctx(cmd);
      if (ref !== undefined && opts.failed) throw usage('Give an execution or --failed, not both.');
      if (ref === undefined && !opts.failed) throw usage('Give an execution to redrive, or --failed for all failed ones.');
      if (ref !== undefined) setExit(await redriveOne(c, ref, opts));
      else setExit(await redriveFailed(c, opts));
    });

  // ---- join / leave / reconcile ----------------------------------------------------------------
  for (const workflow of ['join', 'leave'] as const) {
    program
      .command(workflow)
      .argument('<instance-id>', 'EC2 instance ID')
      .description(
        workflow === 'join'
          ? 'Start a join for an instance, with the same input EventBridge gives (an EC2 "running" event).'
          : 'Start a leave for an instance, with the same input EventBridge gives (an EC2 "terminated" event).',
      )
      .option('--account <id>', 'account of the instance in the event (default: the state machine\u2019s)', validateAccount)
      .option('--instance-region <region>', 'Region of the instance in the event (default: the client Region)', validateRegion)
      .option('--wait', 'follow the execution to the end and exit with its outcome')
      .option('--timeout <seconds>', 'with --wait: give up after this long', positiveInt('--timeout', 86400), 3600)
      .addHelpText('after', examples(`adjoin ${workflow} i-0123456789abcdef0`, `adjoin ${workflow} i-0123456789abcdef0 --wait`, `adjoin --local ${workflow} i-0123456789abcdef0 --json`))
      .action(async (instanceId: string, opts: StartOptions, cmd: Command) => {
        const c = ctx(cmd);
        validateInstanceId(instanceId);
        setExit(await startAndMaybeWait(c, { workflow, instanceId, account: opts.account, region: opts.instanceRegion }, opts));
      });
  }
  program
    .command('reconcile')
    .description('Start a reconcile run (as the schedule does); --dry-run reports what it would delete.')
    .option('--dry-run', 'report only, delete nothing')
    .option('--wait', 'follow the execution to the end and exit with its outcome')
    .option('--timeout <seconds>', 'with --wait: give up after this long', positiveInt('--timeout', 86400), 3600)
    .addHelpText('after', examples('adjoin reconcile --dry-run --wait', 'adjoin reconcile --json'))
    .action(async (opts: StartOptions & { dryRun?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      setExit(await startAndMaybeWait(c, { workflow: 'reconcile', dryRun: opts.dryRun === true }, opts));
    });

  // ---- status ----------------------------------------------------------------------------------
  program
    .command('status')
    .argument('<instance-id>', 'EC2 instance ID')
    .description('An instance: its state and adjoin status tags, its last executions (lab: its computer objects too).')
    .option('--executions <n>', 'how many of its executions to show', positiveInt('--executions', 100), 5)
    .addHelpText('after', examples('adjoin status i-0123456789abcdef0', 'adjoin --local status i-0123456789abcdef0 --json'))
    .action(async (instanceId: string, opts: { executions: number }, cmd: Command) => {
      const c = ctx(cmd);
      validateInstanceId(instanceId);
      const status = await (await c.backend()).instanceStatus(instanceId, { executions: opts.executions });
      c.print(() => instanceStatusText(status, io.now(), c.style), status);
      if (!status.found) setExit(Exit.notFound);
    });

  // ---- doctor ------------------------------------------------------------------------------------
  addDoctorCommand(program, {
    io,
    source: () => {
      const globals = program.opts<GlobalOptions>();
      if (globals.region !== undefined) validateRegion(globals.region);
      if (!targets.doctor) throw failed('adjoin doctor is not available here.');
      return targets.doctor(globals);
    },
    context: (cmd) => {
      const c = ctx(cmd);
      return { style: c.style, json: c.globals.json === true, local: c.globals.local === true, region: c.globals.region, profile: c.globals.profile };
    },
    setExit,
  });

  // ---- directory-info ------------------------------------------------------------------------------
  addDirectoryInfoCommand(program, {
    io,
    directoryService: (cmd) => {
      const globals = ctx(cmd).globals;
      if (globals.region !== undefined) validateRegion(globals.region);
      if (globals.local) throw usage('directory-info reads AWS Directory Service; the lab has none (drop --local).');
      if (!targets.directoryService) throw failed('adjoin directory-info is not available here.');
      return targets.directoryService(globals);
    },
    setExit,
  });

  // ---- lab ---------------------------------------------------------------------------------------
  addLabCommands(program, {
    io,
    control: (cmd) => targets.labControl(ctx(cmd).globals),
    context: (cmd) => {
      const c = ctx(cmd);
      return { style: c.style, json: c.globals.json === true, print: (human, data) => c.print(human, data) };
    },
    setExit,
  });

  return program;
}

interface RedriveOptions {
  failed?: boolean;
  workflow?: Workflow;
  since?: string;
  limit: number;
  yes?: boolean;
  wait?: boolean;
  timeout: number;
}

interface StartOptions {
  account?: string;
  instanceRegion?: string;
  wait?: boolean;
  timeout: number;
}

function awsOptions(g: GlobalOptions): AwsBackendOptions {
  if (g.region !== undefined) validateRegion(g.region);
  return {
    region: g.region,
    profile: g.profile,
    stackName: g.stack,
    arns: {
      ...(g.joinArn ? { join: stateMachineArn(g.joinArn, '--join-arn') } : {}),
      ...(g.leaveArn ? { leave: stateMachineArn(g.leaveArn, '--leave-arn') } : {}),
      ...(g.reconcileArn ? { reconcile: stateMachineArn(g.reconcileArn, '--reconcile-arn') } : {}),
    },
    statusPrefix: g.tagPrefix,
  };
}

function stateMachineArn(arn: string, flag: string): string {
  if (!/^arn:[\w-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}$/.test(arn)) throw usage(`${flag}: not a state machine ARN: ${arn}`);
  return arn;
}

function sinceOf(text: string, now: Date): Date {
  const since = parseSince(text, now);
  if (since === undefined) throw usage(`--since: not an age or date: ${JSON.stringify(text)}`, 'Use e.g. 90s, 30m, 24h, 7d, or 2026-11-20T08:00:00Z.');
  return since;
}

const exitFor = (status: ExecutionStatus): ExitCode => (status === 'SUCCEEDED' ? Exit.ok : Exit.failed);

async function startAndMaybeWait(
  c: Context,
  request: { workflow: Workflow; instanceId?: string; dryRun?: boolean; account?: string; region?: string },
  opts: StartOptions,
): Promise<ExitCode> {
  const backend = await c.backend();
  const started = await backend.start(request);
  const e = started.execution;
  if (!opts.wait) {
    c.print(
      () => [`Started ${e.workflow}${e.instanceId ? ` for ${e.instanceId}` : ''}: ${c.style.bold(e.name)}  ${statusText(e.status, c.style)}`, `  ${c.style.dim(e.id)}`, c.style.dim(`  Follow it: adjoin${c.globals.local ? ' --local' : ''} show ${e.name}`)].join('\n'),
      started,
    );
    return e.status === 'FAILED' || e.status === 'TIMED_OUT' || e.status === 'ABORTED' ? Exit.failed : Exit.ok;
  }
  if (!c.globals.json) c.io.err(`Started ${e.workflow}${e.instanceId ? ` for ${e.instanceId}` : ''}: ${e.name}`);
  return follow(c, backend, e.id, opts.timeout);
}

/** Polls until the execution ends (backoff 1 s → 15 s, bounded by the timeout), then shows it. */
async function follow(c: Context, backend: Backend, id: string, timeoutS: number): Promise<ExitCode> {
  const started = c.io.now().getTime();
  let delay = 1000;
  let last: ExecutionDetail = await backend.describe(id);
  let lastStatus = '';
  while (last.status === 'RUNNING' || last.status === 'PENDING_REDRIVE') {
    const waited = c.io.now().getTime() - started;
    if (waited >= timeoutS * 1000) {
      throw failed(`${last.name} is still ${last.status} after ${duration(waited)}; stopped waiting (it goes on).`, `Check later: adjoin show ${last.name}`);
    }
    if (!c.globals.json && last.status !== lastStatus) c.io.err(`  ${last.name}: ${last.status}…`);
    lastStatus = last.status;
    await c.io.sleep(Math.min(delay, timeoutS * 1000 - waited));
    delay = Math.min(15_000, Math.round(delay * 1.5));
    last = await backend.describe(id);
  }
  const { execution, timeline } = await backend.timeline(last.id);
  c.print(() => showExecution(execution, timeline, { io: false, now: c.io.now(), local: c.globals.local === true }, c.style), { execution, timeline });
  return exitFor(execution.status);
}

async function redriveOne(c: Context, ref: string, opts: RedriveOptions): Promise<ExitCode> {
  const backend = await c.backend();
  const detail = await backend.describe(ref);
  const refusal = redriveRefusal(detail, c.io.now());
  if (refusal) throw failed(`Cannot redrive ${detail.name} (${detail.status}): ${refusal}.`);
  const result = await backend.redrive(detail.id);
  if (opts.wait) {
    if (!c.globals.json) c.io.err(`Redriven ${detail.name} at ${absolute(result.redriveDate)}${detail.failedState ? `, from "${detail.failedState}"` : ''}`);
    return follow(c, backend, detail.id, opts.timeout);
  }
  c.print(
    () => `Redriven ${c.style.bold(detail.name)} at ${absolute(result.redriveDate)}${detail.failedState ? ` — resumes at "${detail.failedState}"` : ''}\n  ${c.style.dim(`Follow it: adjoin${c.globals.local ? ' --local' : ''} show ${detail.name}`)}`,
    { redriven: [{ ...result, execution: detail.name }], refused: [] },
  );
  return Exit.ok;
}

interface BulkRow {
  execution: ExecutionSummary;
  detail?: ExecutionDetail;
  refusal?: string;
  result?: 'redriven' | 'failed';
  message?: string;
  redriveDate?: Date;
}

async function redriveFailed(c: Context, opts: RedriveOptions): Promise<ExitCode> {
  const backend = await c.backend();
  const now = c.io.now();
  const since = sinceOf(opts.since ?? '14d', now);
  const candidates: ExecutionSummary[] = [];
  for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
    candidates.push(...(await backend.listExecutions({ workflow: opts.workflow, status, since, limit: opts.limit })));
  }
  candidates.sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  const rows: BulkRow[] = [];
  for (const e of candidates.slice(0, opts.limit)) {
    const detail = await backend.describe(e.id);
    rows.push({ execution: e, detail, refusal: redriveRefusal(detail, now) });
  }
  const eligible = rows.filter((r) => r.refusal === undefined);
  const report = (): unknown => ({
    redriven: rows.filter((r) => r.result === 'redriven').map((r) => ({ id: r.execution.id, name: r.execution.name, redriveDate: r.redriveDate })),
    failed: rows.filter((r) => r.result === 'failed').map((r) => ({ id: r.execution.id, name: r.execution.name, reason: r.message })),
    refused: rows.filter((r) => r.refusal !== undefined).map((r) => ({ id: r.execution.id, name: r.execution.name, status: r.execution.status, reason: r.refusal })),
  });

  if (!c.globals.json) {
    for (const r of rows.filter((x) => x.refusal)) c.io.out(`${c.style.dim('skip')}  ${r.execution.name}: ${r.refusal}`);
  }
  if (eligible.length === 0) {
    c.print(() => (rows.length === 0 ? 'No failed executions to redrive.' : 'Nothing can be redriven.'), report());
    return Exit.ok;
  }
  if (!opts.yes) {
    if (!c.io.stdinIsTTY) throw usage(`${eligible.length} execution(s) to redrive; not asking without a terminal.`, 'Add --yes to redrive without confirmation.');
    c.io.err(executionsTable(eligible.map((r) => ({ ...r.execution, failedState: r.detail?.failedState ?? r.execution.failedState })), now, c.style));
    if (!(await c.io.confirm(`Redrive these ${eligible.length} execution(s)? [y/N] `))) {
      c.io.err('Nothing redriven.');
      return Exit.failed;
    }
  }
  let i = 0;
  for (const r of eligible) {
    i += 1;
    try {
      const res = await backend.redrive(r.execution.id);
      r.result = 'redriven';
      r.redriveDate = res.redriveDate;
      if (!c.globals.json) c.io.out(`[${i}/${eligible.length}] ${c.style.green('redriven')}  ${r.execution.name}${r.detail?.failedState ? c.style.dim(` from "${r.detail.failedState}"`) : ''}`);
    } catch (err) {
      const f = classify(err);
      if (f.exitCode === Exit.access) throw f;
      r.result = 'failed';
      r.message = f.message;
      if (!c.globals.json) c.io.out(`[${i}/${eligible.length}] ${c.style.red('failed')}    ${r.execution.name}: ${f.message}`);
    }
  }
  const done = rows.filter((r) => r.result === 'redriven').length;
  const bad = rows.filter((r) => r.result === 'failed').length;
  c.print(() => `${done} redriven, ${bad} failed, ${rows.length - eligible.length} skipped.`, report());
  return bad > 0 ? Exit.failed : Exit.ok;
}

/** Parses argv (without node and the script), runs, and returns the exit code. */
export async function run(argv: string[], io: Io, targets: Targets): Promise<number> {
  let code: ExitCode = Exit.ok;
  const program = buildProgram(io, targets, (c) => {
    code = c;
  });
  const debug = argv.includes('--debug');
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return Exit.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return Exit.ok;
      if (err.code === 'commander.executeSubCommandAsync') return Exit.failed;
      // commander already printed its one-line message.
      return Exit.usage;
    }
    const f = classify(err);
    io.err(`adjoin: ${f.message}`);
    if (f.hint) io.err(`  ${f.hint}`);
    if (debug && err instanceof Error && err.stack) io.err(err.stack);
    return f.exitCode;
  }
}


/** The real terminal. */
export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    isTTY: process.stdout.isTTY === true,
    stdinIsTTY: process.stdin.isTTY === true,
    env: process.env,
    now: () => new Date(),
    sleep: realSleep,
    confirm: async (question) => {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(question);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
  };
}
