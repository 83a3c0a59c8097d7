/**
 * `adjoin lab …`: the local lab world (a real Samba AD DC and Linux instances in namespaces) and
 * the EC2 events it emits. `launch` emits "running" (a join runs on the local engine, as on
 * AWS), `terminate` emits "terminated" (a leave runs). Needs root, like the lab itself.
 */
import type { Command } from 'commander';
import type { Backend, ExecutionSummary } from './backend';
import { mapLimit } from './concurrency';
import { validateInstanceId } from './ec2-event';
import { Exit, usage, type ExitCode } from './exit';
import { absolute, table, type Style } from './format';
import type { LabGroups, LabWorld } from './lab-link';
import { DISTRO_NAMES, isDistroName, type DistroName } from '../lab/world/rootfs';
import { LAB_REGION, LAB_REGIONS } from '../lab/world/paths';
import { statusText } from './render';
import type { LifecycleAction } from '../tasks/lib/ports';

export interface LabControl {
  world: LabWorld;
  /** The lab backend (execution store + runtime) that runs the workflows for the events. */
  backend(): Promise<Backend>;
  /** The lab's simulated Auto Scaling groups (lab/world/autoscaling.ts, kept in the lab's state directory). */
  groups?(): Promise<LabGroups>;
}


export interface LabCommandDeps {
  io: { out(t: string): void; err(t: string): void };
  control(cmd: Command): Promise<LabControl>;
  context(cmd: Command): { style: Style; json: boolean; print(human: () => string, data: unknown): void };
  setExit(code: ExitCode): void;
}

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const TAG = /^([^=]{1,128})=(.{0,256})$/s;

function collectTag(value: string, previous: Record<string, string>): Record<string, string> {
  const m = TAG.exec(value);
  if (!m) throw usage(`--tag: expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [m[1] ?? '']: m[2] ?? '' };
}

const count = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw usage(`--count must be a whole number from 1 to 20, got ${JSON.stringify(text)}`);
  return n;
};

/** A lab Auto Scaling group name (stricter than AWS's 1-255 characters: it names a lab file entry and shows in tables). */
const groupName = (text: string): string => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text)) throw usage(`--asg: a group name is 1-64 of letters, digits, . _ - (starting with a letter or digit), got ${JSON.stringify(text)}`);
  return text;
};

const hookTimeout = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 30 || n > 7200) throw usage(`--hook-timeout must be 30-7200 seconds, got ${JSON.stringify(text)}`);
  return n;
};

/**
 * The lab Region of `lab launch` / `lab terminate` (the global --region, which the root command
 * reads wherever it stands): only the two lab Regions; absent: undefined (LAB_REGION).
 */
const labRegionOf = (cmd: Command): string | undefined => {
  const region = cmd.optsWithGlobals<{ region?: string }>().region;
  if (region !== undefined && !LAB_REGIONS.includes(region)) throw usage(`--region must be a lab Region (${LAB_REGIONS.join(', ')}), got ${JSON.stringify(region)}`);
  return region;
};

const distro = (text: string): DistroName => {
  if (!isDistroName(text)) throw usage(`--distro must be one of ${DISTRO_NAMES.join(', ')}, got ${JSON.stringify(text)}`);
  return text;
};

/** The hook names the product's lifecycle rules match (infra/entry-rules.ts hookNames, resourcePrefix adjoin). */
export const LabHooks = { launch: 'adjoin-join', terminate: 'adjoin-leave' } as const;

async function labGroups(control: LabControl): Promise<LabGroups> {
  if (!control.groups) throw usage('--asg: this lab has no Auto Scaling groups');
  return control.groups();
}

const runLine = (e: ExecutionSummary, style: Style): string =>
  `${e.workflow} ${style.bold(e.name)}  ${statusText(e.status, style)}${e.failedState ? `  failed in ${style.red(e.failedState)}${e.error ? ` (${e.error})` : ''}` : ''}`;

const outcome = (runs: ExecutionSummary[]): ExitCode => (runs.every((r) => r.status === 'SUCCEEDED') ? Exit.ok : Exit.failed);

export function addLabCommands(program: Command, deps: LabCommandDeps): void {
  const lab = program
    .command('lab')
    .description('The local lab: a real Samba AD DC and Linux instances in network namespaces (needs root).')
    .addHelpText('after', examples('adjoin lab up', 'adjoin lab launch --count 2 --tag Domain:Join=true', 'adjoin lab exec i-0123456789abcdef0 -- getent passwd alice', 'adjoin lab down'));

  lab
    .command('up')
    .description('Provision the lab domain controllers (idempotent: an up lab is left as is).')
    .option('--dcs <n>', 'domain controllers: 2 (DC2 a replica of DC1) or 1', (v) => {
      if (v !== '1' && v !== '2') throw usage(`--dcs must be 1 or 2, got ${JSON.stringify(v)}`);
      return Number(v) as 1 | 2;
    }, 2)
    .addHelpText('after', examples('adjoin lab up', 'adjoin lab up --dcs 1 --json'))
    .action(async (opts: { dcs: 1 | 2 }, cmd: Command) => {
      const c = deps.context(cmd);
      const { world } = await deps.control(cmd);
      const status = await world.up({ dcs: opts.dcs, log: (line) => deps.io.err(c.style.dim(`  ${line}`)) });
      c.print(() => labStatusText(status, c.style), status);
    });

  lab
    .command('down')
    .description('Tear the lab down: processes, namespaces, mounts and state (works after a crash).')
    .option('--keep-state', 'keep the state file (and the execution store)')
    .addHelpText('after', examples('adjoin lab down'))
    .action(async (opts: { keepState?: boolean }, cmd: Command) => {
      const c = deps.context(cmd);
      const { world } = await deps.control(cmd);
      const report = await world.down({ keepState: opts.keepState === true });
      c.print(
        () => `Lab down: ${report.netns.length} namespace(s) removed, ${report.killed} process(es) stopped, ${report.unmounted} mount(s) released.${report.problems.length ? `\nProblems: ${report.problems.join('; ')}` : ''}`,
        report,
      );
      if (report.problems.length > 0) deps.setExit(Exit.failed);
    });

  lab
    .command('status')
    .description('The lab domain and its instances.')
    .addHelpText('after', examples('adjoin lab status', 'adjoin lab status --json'))
    .action(async (_opts: unknown, cmd: Command) => {
      const c = deps.context(cmd);
      const control = await deps.control(cmd);
      const raw = await control.world.status();
      // Instances in a lab Auto Scaling group: their group and lifecycle state (Pending:Wait, InService, …).
      const groups = raw.instances.length > 0 && control.groups ? await control.groups() : undefined;
      const status = { ...raw, instances: raw.instances.map((i) => {
        const m = groups?.membership(i.instanceId);
        return m ? { ...i, autoScaling: m } : i;
      }) };
      c.print(() => labStatusText(status, c.style), status);
      if (!status.up) deps.setExit(Exit.notFound);
    });

  lab
    .command('launch')
    .description('Launch lab instances; each emits the EC2 "running" event and a join runs on the local engine.')
    .option('--count <n>', 'how many (1-20)', count, 1)
    .option('--tag <key=value>', 'a tag (repeat for more), e.g. Domain:Join=true', collectTag, {})
    .option('--no-join', 'do not emit the "running" event (no join execution)')
    .option('--distro <name>', `run from another distribution's root filesystem (${DISTRO_NAMES.join(', ')}; built once with debootstrap, cached in /var/cache/adjoin-lab)`, distro)
    .option('--asg <name>', 'launch into a lab Auto Scaling group with our lifecycle hooks (made on first use): the instance waits in Pending:Wait, the join starts from the launch hook\u2019s event and answers it (CONTINUE → InService, a failed join ABANDON → terminated)', groupName)
    .option('--hook-timeout <seconds>', 'heartbeat timeout of a group made now (30-7200; default 3600; when it runs out the default result ABANDON applies)', hookTimeout)
    .addHelpText('after', examples('adjoin lab launch --tag Domain:Join=true', 'adjoin lab launch --count 3 --tag Domain:Join=true --tag adGroupName=linux-admins --json', 'adjoin lab launch --distro trixie --tag Domain:Join=true', 'adjoin lab launch --asg web --tag Domain:Join=true', `adjoin lab launch --region ${LAB_REGIONS[1] ?? ''} --tag Domain:Join=true   (the second lab Region; the global --region picks one of ${LAB_REGIONS.join(', ')})`))
    .action(async (opts: { count: number; tag: Record<string, string>; join: boolean; distro?: DistroName; asg?: string; hookTimeout?: number }, cmd: Command) => {
      const c = deps.context(cmd);
      if (opts.hookTimeout !== undefined && opts.asg === undefined) throw usage('--hook-timeout needs --asg');
      const region = labRegionOf(cmd);
      if (region !== undefined && region !== LAB_REGION && opts.asg !== undefined) throw usage(`--asg: the lab's Auto Scaling groups are in ${LAB_REGION} only`);
      const control = await deps.control(cmd);
      const groups = opts.asg !== undefined ? await labGroups(control) : undefined;
      if (groups && opts.asg !== undefined) groups.addGroup({ name: opts.asg, hooks: LabHooks, heartbeatTimeoutSeconds: opts.hookTimeout ?? 3600, defaultResult: 'ABANDON' });
      const launched: Awaited<ReturnType<LabWorld['launch']>>[] = [];
      const actions: (LifecycleAction | undefined)[] = [];
      for (let i = 0; i < opts.count; i++) {
        const inst = await control.world.launch({ tags: opts.tag, ...(opts.distro ? { distro: opts.distro, log: (l: string) => deps.io.err(l) } : {}), ...(region !== undefined ? { region } : {}) });
        launched.push(inst);
        const action = groups && opts.asg !== undefined ? groups.launched(inst.instanceId, opts.asg) : undefined;
        actions.push(action);
        if (!c.json) deps.io.err(`launched ${inst.instanceId} (${inst.ip}, ${inst.hostname}${inst.distro ? `, ${inst.distro}` : ''}${inst.region ? `, ${inst.region}` : ''})${action ? ` into ${opts.asg ?? ''}: Pending:Wait` : ''}`);
      }
      let runs: ExecutionSummary[] = [];
      if (opts.join) {
        const backend = await control.backend();
        runs = await mapLimit(launched, 4, async (inst, i) => {
          const lifecycle = actions[i];
          return (await backend.start({ workflow: 'join', instanceId: inst.instanceId, ...(lifecycle ? { lifecycle } : {}), ...(region !== undefined ? { region } : {}) })).execution;
        });
      }
      const lifecycleOf = (id: string) => (groups ? groups.membership(id) : undefined);
      c.print(
        () =>
          launched
            .map((inst, i) => {
              const run = runs[i];
              const m = lifecycleOf(inst.instanceId);
              return `${c.style.bold(inst.instanceId)}  ${inst.ip}  ${Object.entries(inst.tags).map(([k, v]) => `${k}=${v}`).join(' ')}${m ? `  ${m.group}: ${m.lifecycleState}` : ''}${run ? `\n  ${runLine(run, c.style)}` : ''}`;
            })
            .join('\n'),
        { instances: launched.map((inst) => ({ ...inst, ...(lifecycleOf(inst.instanceId) ? { autoScaling: lifecycleOf(inst.instanceId) } : {}) })), executions: runs },
      );
      deps.setExit(outcome(runs));
    });

  lab
    .command('terminate')
    .argument('<instance-id>', 'lab instance ID')
    .description('Terminate a lab instance; it emits the EC2 "terminated" event and a leave runs on the local engine.')
    .option('--no-leave', 'do not emit the "terminated" event (no leave execution)')
    .addHelpText('after', examples('adjoin lab terminate i-0123456789abcdef0', `adjoin lab terminate --region ${LAB_REGIONS[1] ?? ''} i-0123456789abcdef0   (an instance of the second lab Region: its leave event carries that Region)`))
    .action(async (instanceId: string, opts: { leave: boolean }, cmd: Command) => {
      validateInstanceId(instanceId);
      const c = deps.context(cmd);
      const region = labRegionOf(cmd);
      const control = await deps.control(cmd);
      await control.world.terminate(instanceId);
      const run = opts.leave ? (await (await control.backend()).start({ workflow: 'leave', instanceId, ...(region !== undefined ? { region } : {}) })).execution : undefined;
      c.print(() => `${c.style.bold(instanceId)} terminated${run ? `\n  ${runLine(run, c.style)}` : ''}`, { instanceId, state: 'terminated', execution: run });
      deps.setExit(outcome(run ? [run] : []));
    });

  const dc = lab.command('dc').description('Chaos levers on a lab domain controller (dc1 or dc2): the lab stays up.');
  const levers: [string, string, (w: LabWorld, name: string) => Promise<void>][] = [
    ['stop', 'stop its samba (by its PID file)', (w, n) => w.stopDc(n)],
    ['start', 'start its samba again and wait for LDAPS', (w, n) => w.startDc(n)],
    ['isolate', 'silently drop every packet to and from it (a dead link)', (w, n) => w.isolateDc(n)],
    ['reconnect', 'undo isolate', (w, n) => w.reconnectDc(n)],
  ];
  for (const [verb, what, act] of levers)
    dc.command(verb)
      .argument('<name>', 'dc1 or dc2')
      .description(`${what[0]?.toUpperCase() ?? ''}${what.slice(1)}.`)
      .addHelpText('after', examples(`adjoin lab dc ${verb} dc1`))
      .action(async (name: string, _opts: unknown, cmd: Command) => {
        const c = deps.context(cmd);
        const { world } = await deps.control(cmd);
        await act(world, name);
        c.print(() => `${name}: ${verb} done`, { dc: name, action: verb });
      });

  const repl = lab.command('replication').description('Replication from DC1 to DC2 (a two-DC lab).');
  for (const [verb, what] of [['pause', 'DC2 stops taking changes from DC1'], ['resume', 'DC2 takes changes again and pulls what it missed now']] as const)
    repl.command(verb)
      .description(`${what}.`)
      .addHelpText('after', examples(`adjoin lab replication ${verb}`))
      .action(async (_opts: unknown, cmd: Command) => {
        const c = deps.context(cmd);
        const { world } = await deps.control(cmd);
        await (verb === 'pause' ? world.pauseReplicationToDc2() : world.resumeReplicationToDc2());
        c.print(() => `replication ${verb === 'pause' ? 'paused' : 'resumed'}`, { replication: verb === 'pause' ? 'paused' : 'running' });
      });

  lab
    .command('exec')
    .argument('<instance-id>', 'lab instance ID')
    .argument('<command...>', 'the command and its arguments (after --)')
    .description('Run a command inside a lab instance; exits with the command\u2019s own exit code.')
    .option('--timeout <seconds>', 'kill the command after this long', (t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1 || n > 3600) throw usage(`--timeout must be 1-3600 seconds, got ${JSON.stringify(t)}`);
      return n;
    }, 60)
    .addHelpText('after', examples('adjoin lab exec i-0123456789abcdef0 -- getent passwd alice', 'adjoin lab exec i-0123456789abcdef0 -- adcli testjoin'))
    .action(async (instanceId: string, argv: string[], opts: { timeout: number }, cmd: Command) => {
      validateInstanceId(instanceId);
      const c = deps.context(cmd);
      const { world } = await deps.control(cmd);
      const res = await world.exec(instanceId, argv, { timeoutMs: opts.timeout * 1000 });
      if (c.json) {
        c.print(() => '', res);
      } else {
        if (res.stdout !== '') deps.io.out(res.stdout.replace(/\n$/, ''));
        if (res.stderr !== '') deps.io.err(res.stderr.replace(/\n$/, ''));
      }
      deps.setExit(Math.min(255, Math.max(0, res.exitCode)) as ExitCode);
    });
}

interface LabStatusLike {
  up: boolean;
  dir: string;
  account: string;
  region: string;
  upSeconds?: number;
  domain?: {
    realm: string;
    dcFqdn: string;
    dcIp: string;
    domainControllers?: { name: string; hostName: string; ip: string; state: string; isolated: boolean }[];
    replicationPaused?: boolean;
    managedOu: string;
    loginGroup: string;
    users: string[];
  };
  instances: { instanceId: string; state: string; ip: string; hostname: string; launchTime: string; computerName?: string; tags: Record<string, string>; autoScaling?: { group: string; lifecycleState: string }; region?: string }[];
}

export function labStatusText(s: LabStatusLike, style: Style): string {
  const out: string[] = [];
  out.push(`lab ${s.up ? style.green('up') : style.yellow('down')}  ${style.dim(s.dir)}  account ${s.account}  ${s.region}`);
  if (s.domain) {
    const dcs = s.domain.domainControllers ?? [{ name: 'dc1', hostName: s.domain.dcFqdn, ip: s.domain.dcIp, state: 'running', isolated: false }];
    out.push(`  domain    ${s.domain.realm}${s.domain.replicationPaused ? `  ${style.yellow('replication to DC2 paused')}` : ''}`);
    for (const d of dcs)
      out.push(`  ${d.name.padEnd(9)} ${d.hostName} (${d.ip})  ${d.state === 'running' ? style.green(d.state) : style.yellow(d.state)}${d.isolated ? `  ${style.yellow('isolated')}` : ''}`);
    out.push(`  managed   ${s.domain.managedOu}`);
    out.push(`  login     ${s.domain.loginGroup}  users: ${s.domain.users.join(', ')}`);
  }
  if (s.instances.length > 0) {
    out.push('');
    // The GROUP column only when an instance is in a lab Auto Scaling group (`lab launch --asg`).
    const grouped = s.instances.some((i) => i.autoScaling !== undefined);
    const lifecycle = (i: LabStatusLike['instances'][number]): string[] => (grouped ? [i.autoScaling ? `${i.autoScaling.group} ${i.autoScaling.lifecycleState}` : '-'] : []);
    // The REGION column only when an instance lives in another lab Region (`lab launch --region`).
    const regional = s.instances.some((i) => i.region !== undefined);
    const regionOf = (i: LabStatusLike['instances'][number]): string[] => (regional ? [i.region ?? s.region] : []);
    out.push(
      table(
        ['INSTANCE', 'STATE', ...(regional ? ['REGION'] : []), ...(grouped ? ['GROUP'] : []), 'IP', 'HOSTNAME', 'COMPUTER', 'LAUNCHED', 'TAGS'],
        s.instances.map((i) => [i.instanceId, i.state, ...regionOf(i), ...lifecycle(i), i.ip, i.hostname, i.computerName ?? '-', absolute(new Date(i.launchTime)), Object.entries(i.tags).map(([k, v]) => `${k}=${v}`).join(' ')]),
        style,
      ),
    );
  }
  return out.join('\n');
}

