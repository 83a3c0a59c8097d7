/**
 * `npm run lab` — the product's main job on its embedded default, end to end, with real tools:
 *
 *   lab up (a real Samba AD DC in namespaces) → launch three instances (two opted in, one not)
 *   → each launch emits the EC2 "running" event → the join workflow (the ASL synthesized from
 *   infra/) runs on the local engine with the real tasks → every execution as a timeline →
 *   `getent` / `id` inside a joined instance (real SSSD) → terminate one → leave → check the
 *   directory through the DC's own ldapsearch → reconcile (dry run, then real) → lab down, and
 *   nothing left on the machine.
 *
 * Needs root (namespaces, Samba). Exit 0: every expectation held. Exit 1: one did not (the
 * lab is torn down anyway). Exit 2: the machine is not ready (not root, packages missing).
 *
 * Wiring only: the lab world (lab/world, its fleet.ts), the engine (engine/) and the CLI's lab
 * runtime and renderings (cli/) are used as they are.
 */
import '../engine/polyfill';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as world from '../lab/world';
import { LabFleet, labDepsProvider, labSettings } from '../lab/world/fleet';
import { ExecutionStore, timeline, type ExecutionRecord } from '../engine';
import type { Settings } from '../tasks/lib/settings';
import { makeLabRuntime } from './lab-runtime';
import { LabBackend } from './lab-backend';
import type { Backend, Workflow } from './backend';
import { colourEnabled, duration, makeStyle, table, type Style } from './format';
import { showExecution } from './render';

/** The Debian packages the lab needs (lab/world/README.md). */
// samba-ad-provision, samba-dsdb-modules, samba-vfs-modules and attr are only "recommended" by samba, but
// `samba-tool domain provision` fails without them (measured on a --no-install-recommends machine).
export const LAB_PACKAGES = ['samba', 'samba-ad-provision', 'samba-dsdb-modules', 'samba-vfs-modules', 'attr', 'winbind', 'krb5-user', 'ldap-utils', 'adcli', 'sssd', 'sssd-ad', 'sssd-tools', 'libnss-sss', 'libpam-sss', 'pamtester', 'sudo', 'iproute2'];

/** Lab timings for the demo: a few seconds of settle, SSM Online a few seconds after launch. */
export const DEMO_SETTLE_SECONDS = 3;
const SSM_DELAY_SECONDS = 2;
/** One instance's agent comes Online late: its "Wait for SSM Online" waits for it (polling inside its Lambda). */
const SSM_LATE_SECONDS = 6;
/** No execution of the demo may take longer than this (real time). */
const EXECUTION_DEADLINE_MS = 240_000;

export interface DemoOptions {
  /** Where text goes (default: standard output). */
  write?: (text: string) => void;
  /** Colour (default: only on a TTY, never with NO_COLOR). */
  colour?: boolean;
  /** Install missing Debian packages with apt-get when root (default true). */
  installPackages?: boolean;
  /** Tear down on SIGINT / SIGTERM (default true; tests pass false). */
  handleSignals?: boolean;
}

export interface DemoRow {
  label: string;
  instanceId: string;
  optedIn: boolean;
  loginGroup?: string;
  outcome: string;
  computerName?: string;
  joinSeconds?: number;
  retries: number;
  /** How long "Wait for SSM Online" took (s). */
  ssmWaitSeconds: number;
  end: string;
}

export interface DemoResult {
  /** 0 every expectation held; 1 one failed; 2 the machine is not ready. */
  exitCode: 0 | 1 | 2;
  failures: string[];
  rows: DemoRow[];
  stepsMs: Record<string, number>;
  totalMs: number;
  /** Of totalMs, the time spent waiting for another process to release the lab. */
  waitedMs: number;
  executions: Record<string, ExecutionRecord>;
}

class Aborted extends Error {
  override readonly name = 'Aborted';
}

interface Planned {
  label: string;
  tags: Record<string, string>;
  ssmDelaySeconds: number;
  optedIn: boolean;
  loginGroup?: string;
}

const PLAN: Planned[] = [
  { label: 'web-1', tags: { Name: 'demo-web-1', 'Domain:Join': 'true' }, ssmDelaySeconds: SSM_DELAY_SECONDS, optedIn: true },
  { label: 'admin-1', tags: { Name: 'demo-admin-1', 'Domain:Join': 'true', adGroupName: 'linux-admins' }, ssmDelaySeconds: SSM_LATE_SECONDS, optedIn: true, loginGroup: 'linux-admins' },
  { label: 'batch-1', tags: { Name: 'demo-batch-1' }, ssmDelaySeconds: SSM_DELAY_SECONDS, optedIn: false },
];

const STEPS = 10;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const indent = (text: string, by = '      '): string => text.replace(/\n+$/, '').split('\n').map((l) => `${by}${l}`).join('\n');

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Root and the Debian packages; installs what is missing (as root). */
function checkMachine(say: (l: string) => void, style: Style, install: boolean): { ok: true } | { ok: false; message: string } {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...LAB_PACKAGES], { encoding: 'utf8' });
  if (dpkg.error) return { ok: false, message: 'The lab needs a Debian-based machine (dpkg-query not found).' };
  const installed = new Set(dpkg.stdout.split('\n').filter((l) => /\sii\s*$/.test(l)).map((l) => l.split(' ')[0]));
  const missing = LAB_PACKAGES.filter((p) => !installed.has(p));
  const aptLine = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (!isRoot) {
    const lines = ['The lab needs root (network namespaces, a Samba AD DC). Run:'];
    if (missing.length) lines.push(`  sudo sh -c '${aptLine}'`);
    lines.push('  sudo npm run lab');
    return { ok: false, message: lines.join('\n') };
  }
  if (missing.length === 0) {
    say(style.dim(`      ${LAB_PACKAGES.length} Debian packages present, running as root`));
    return { ok: true };
  }
  if (!install) return { ok: false, message: `Missing Debian packages: ${missing.join(' ')}. Run: ${aptLine}` };
  say(`      installing ${missing.join(' ')} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = spawnSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: 300_000 });
  const inst = spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env, timeout: 900_000 });
  if (upd.status !== 0 || inst.status !== 0) return { ok: false, message: `apt-get failed; install by hand: ${aptLine}` };
  return { ok: true };
}

/** Computer objects whose marker names the instance, found by the DC's own ldapsearch (as Administrator). */
async function computersOf(instanceId: string): Promise<string[]> {
  const d = world.labState().domain;
  const r = await world.dcLdapSearch(d.baseDn, `(&(objectClass=computer)(msDS-cloudExtensionAttribute1=*${instanceId}*))`, ['cn'], { asAdmin: true });
  if (r.exitCode !== 0 && r.exitCode !== 32) throw new Error(`ldapsearch in the DC failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return [...r.stdout.matchAll(/^cn: (.+)$/gm)].map((m) => m[1] ?? '');
}

async function computerByName(name: string): Promise<boolean> {
  const d = world.labState().domain;
  const r = await world.dcLdapSearch(d.baseDn, `(sAMAccountName=${name}$)`, ['dn'], { asAdmin: true });
  return /^dn: /m.test(r.stdout);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long to wait for another process that holds the lab (lease) before giving up. */
export const LAB_WAIT_MS = Number(process.env.ADJOIN_LAB_WAIT_SECONDS ?? '300') * 1000;

/**
 * A lab of our own, fresh: waits (bounded) while another live process holds the lab (a test
 * suite, another demo), cleans any leftover lab, brings a new one up and leases it, so that
 * nobody else's down() takes it away under us. If another process slips in between (its up()
 * and its lease are two calls), waits again. Returns the lab's status and the release function.
 */
export async function acquireFreshLab(log: (line: string) => void, waitMs = LAB_WAIT_MS): Promise<{ status: world.LabStatus; release: () => void; waitedMs: number }> {
  const others = (): number[] => world.leaseHolders().filter((pid) => pid !== process.pid);
  const t0 = Date.now();
  const busy = (): Error => new Error(`the lab is in use by process(es) ${others().join(' ') || '(another)'} for more than ${Math.round(waitMs / 1000)} s; wait for them, or take it down with \`npm run adjoin -- lab down\``);
  let said = false;
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let i = 0; i < 10_000 && others().length > 0; i++) {
      if (Date.now() - t0 > waitMs) throw busy();
      if (!said) log(`the lab is in use by process(es) ${others().join(' ')}: waiting (at most ${Math.round(waitMs / 1000)} s)…`);
      said = true;
      await sleep(2000);
    }
    const waitedMs = Date.now() - t0;
    const before = await world.leftovers();
    if (before.netns.length || before.mounts.length || before.processes.length || before.hostLink) {
      const c = await world.down();
      if (c.problems.some((p) => /in use/.test(p))) continue; // leased meanwhile: wait for it
      if (c.problems.length) throw new Error(`could not clean an earlier lab: ${c.problems.join('; ')}`);
      if (c.netns.length || c.killed || c.unmounted) log(`cleaned an earlier lab: ${c.netns.length} netns, ${c.killed} processes, ${c.unmounted} mounts`);
    }
    const tUp = Date.now();
    const status = await world.up({ log, waitForOtherLabMs: Math.max(0, waitMs - (Date.now() - t0)) });
    const release = world.lease();
    const createdAt = Date.parse(world.labState().createdAt);
    if (others().length === 0 && createdAt >= tUp - 1000) return { status, release, waitedMs };
    release(); // someone else's lab came up meanwhile: not ours to use
    log('another process brought the lab up meanwhile: waiting for it');
    if (Date.now() - t0 > waitMs) throw busy();
    await sleep(2000);
  }
  throw busy();
}

/** A process's command line, for messages. */
function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

type Scalar = string | number | boolean;
/** The scalar fields of an execution's output (outcome, computerName, counts…). */
function outputOf(r: ExecutionRecord): Partial<Record<string, Scalar>> {
  const out: Partial<Record<string, Scalar>> = {};
  if (typeof r.output !== 'object' || r.output === null || Array.isArray(r.output)) return out;
  for (const [k, v] of Object.entries(r.output)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return out;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const style = makeStyle(opts.colour ?? colourEnabled(process.stdout.isTTY === true, process.env));
  const say = (line: string): void => write(`${line}\n`);
  const t0 = Date.now();
  const failures: string[] = [];
  const stepsMs: Record<string, number> = {};
  const executions: Record<string, ExecutionRecord> = {};
  const rows: DemoRow[] = [];
  let stepNo = 0;
  let labTouched = false;
  let release: () => void = () => undefined;
  let aborted = false;
  let waitedMs = 0;

  const clock = (): string => style.dim(`+${seconds(Date.now() - t0).padStart(6)}`);
  const step = async <T>(key: string, title: string, fn: () => Promise<T> | T): Promise<T> => {
    stepNo += 1;
    say(`${clock()} ${style.bold(`[${String(stepNo).padStart(2)}/${STEPS}]`)} ${style.bold(title)}`);
    const s = Date.now();
    const out = await fn();
    if (aborted) throw new Aborted('interrupted');
    stepsMs[key] = Date.now() - s;
    say(`${clock()}         ${style.dim(`done in ${seconds(Date.now() - s)}`)}`);
    return out;
  };
  const check = (ok: boolean, what: string, detail = ''): boolean => {
    say(`      ${ok ? style.green('✓') : style.red('✗')} ${what}${!ok && detail ? style.dim(`: ${detail}`) : ''}`);
    if (!ok) failures.push(detail ? `${what}: ${detail}` : what);
    return ok;
  };

  say(style.bold('adjoin lab demo: automatic AD join and leave for EC2, on a real Samba AD, run by the real state machines'));

  // 1. The machine.
  const ready = await step('machine', 'Check the machine (root, Debian packages)', () => checkMachine(say, style, opts.installPackages ?? true));
  if (!ready.ok) {
    say(ready.message);
    return { exitCode: 2, failures: [ready.message], rows, stepsMs, totalMs: Date.now() - t0, waitedMs, executions };
  }

  // Tear down on Ctrl-C / SIGTERM; a second signal does not cut the teardown short.
  let teardown: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (aborted) {
      say(style.yellow(`${sig}: still tearing the lab down…`));
      return;
    }
    aborted = true;
    say(style.yellow(`\n${sig}: tearing the lab down…`));
    release();
    teardown = world.down().then(
      (r) => say(`lab down: ${r.netns.length} network namespaces removed, ${r.killed} processes stopped${r.problems.length ? `; problems: ${r.problems.join('; ')}` : ''}`),
      (err: unknown) => say(style.red(`lab down failed: ${err instanceof Error ? err.message : String(err)}`)),
    );
    void teardown.finally(() => process.exit(130));
  };
  if (opts.handleSignals ?? true) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  try {
    // 2. Lab up, on a clean machine.
    const status = await step('lab up', 'Bring the lab up: Samba AD DC LAB.EXAMPLE.COM in network namespace adjoin-dc', async () => {
      const lab = await acquireFreshLab((l) => say(style.dim(`      ${l}`)));
      labTouched = true;
      release = lab.release;
      waitedMs = lab.waitedMs;
      return lab.status;
    });
    check(status.up, `lab up: DC ${status.domain?.dcFqdn ?? '?'} (${status.domain?.dcIp ?? '?'}), managed OU ${status.domain?.managedOu ?? '?'}`);

    // 3. The product: the ASL synthesized from infra/, the real tasks, the lab's ports.
    let settings: Settings | undefined;
    let backend: Backend | undefined;
    const fleet = new LabFleet();
    const store = new ExecutionStore(path.join(world.labPaths().root, 'executions'));
    await step('load', 'Load the product: synthesize the state machines from infra/, bind each Lambda to its task', () => {
      const customize = (s: Settings): void => {
        s.timings.settleSeconds = DEMO_SETTLE_SECONDS;
      };
      settings = labSettings({ customize });
      const runtime = makeLabRuntime({ store, settings, deps: labDepsProvider({ fleet, customize }) });
      backend = new LabBackend({ store, runtime: () => Promise.resolve(runtime), world, identity: { account: world.LAB_ACCOUNT, region: world.LAB_REGION }, statusPrefix: settings.tags.statusPrefix });
      say(style.dim(`      join, leave, reconcile on the local engine; settle ${DEMO_SETTLE_SECONDS} s, SSM deadline ${settings.timings.ssmOnlineDeadlineSeconds} s, LDAPS ${settings.directory.ldapUrls.join(' ')} (CA verified)`));
    });
    if (!backend || !settings) throw new Error('the lab runtime did not load');
    const be = backend;
    const start = async (workflow: Workflow, request: { instanceId?: string; dryRun?: boolean }): Promise<ExecutionRecord> => {
      const res = await withDeadline(be.start({ workflow, ...request }), EXECUTION_DEADLINE_MS, `${workflow} execution`);
      const rec = store.get(res.execution.name, workflow);
      if (!rec) throw new Error(`execution ${res.execution.name} is not in the store`);
      executions[rec.name] = rec;
      return rec;
    };
    const show = async (rec: ExecutionRecord): Promise<void> => {
      const { execution, timeline: t } = await be.timeline(rec.name);
      say(indent(showExecution(execution, t, { io: false, now: new Date(), local: true }, style)));
      say('');
    };

    // 4. Launch; each launch emits the "running" event and a join execution starts.
    const launched: { plan: Planned; instanceId: string; launchedAt: number }[] = [];
    const joins = await step('joins', 'Launch three instances; each emits EC2 "running" and a join execution starts', async () => {
      const runs: Promise<ExecutionRecord>[] = [];
      for (const plan of PLAN) {
        const inst = await world.launch({ tags: plan.tags, ssmDelaySeconds: plan.ssmDelaySeconds });
        launched.push({ plan, instanceId: inst.instanceId, launchedAt: Date.now() });
        const tags = Object.entries(plan.tags).map(([k, v]) => `${k}=${v}`).join(' ');
        say(`      launched ${style.bold(inst.instanceId)} ${inst.ip.padEnd(11)} ${plan.label.padEnd(8)} ${style.dim(tags)}${plan.optedIn ? '' : style.yellow('  (not opted in)')}`);
        const p = start('join', { instanceId: inst.instanceId });
        p.then(
          (r) => say(`      ${clock()} join ${inst.instanceId} ${r.status === 'SUCCEEDED' ? style.green(r.status) : style.red(r.status)} ${outputOf(r).outcome ?? r.error ?? ''}`),
          () => undefined,
        );
        runs.push(p);
      }
      say(style.dim(`      ${runs.length} join executions running concurrently (settle ${DEMO_SETTLE_SECONDS} s, SSM Online ${SSM_DELAY_SECONDS}–${SSM_LATE_SECONDS} s after launch)…`));
      return Promise.all(runs);
    });

    // 5. Timelines.
    await step('timelines', 'The join executions as timelines', async () => {
      for (const r of joins) await show(r);
    });
    const [web, admin, batch] = launched;
    const [webRun, adminRun, batchRun] = joins;
    if (!web || !admin || !batch || !webRun || !adminRun || !batchRun) throw new Error('three launches expected');

    // 6. Check with real tools.
    await step('checks', 'Check with real tools: NSS inside the joined instances, nothing for the one not opted in', async () => {
      for (const [inst, run] of [[web, webRun], [admin, adminRun]] as const) {
        const out = outputOf(run);
        check(run.status === 'SUCCEEDED' && out.outcome === 'joined', `${inst.plan.label} (${inst.instanceId}): join SUCCEEDED with outcome "joined" as ${out.computerName ?? '?'}`, `${run.status} ${out.outcome ?? ''} ${run.failedState ?? ''} ${run.error ?? ''} ${run.cause ?? ''}`.trim());
        const objs = await computersOf(inst.instanceId);
        check(objs.length === 1 && objs[0] === out.computerName, `${inst.plan.label}: the DC holds exactly one computer object with its marker (${objs.join(', ') || 'none'})`);
      }
      for (const argv of [['getent', 'passwd', 'alice'], ['id', 'alice']]) {
        const r = await world.exec(web.instanceId, argv, { timeoutMs: 30_000 });
        say(`      ${style.cyan(`${web.plan.label}$`)} ${argv.join(' ')}`);
        if (r.stdout.trim()) say(indent(r.stdout, '        '));
        check(r.exitCode === 0 && /alice/.test(r.stdout), `${argv.join(' ')} resolves alice through SSSD inside ${web.instanceId}`, `exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`);
      }
      const idAdmin = await world.exec(admin.instanceId, ['id', 'alice'], { timeoutMs: 30_000 });
      say(`      ${style.cyan(`${admin.plan.label}$`)} id alice`);
      if (idAdmin.stdout.trim()) say(indent(idAdmin.stdout, '        '));
      check(idAdmin.exitCode === 0 && /linux-admins/.test(idAdmin.stdout), `alice is in linux-admins on ${admin.instanceId}`, `exit ${idAdmin.exitCode}: ${(idAdmin.stdout + idAdmin.stderr).trim()}`);
      const acct = async (user: string): Promise<string> => {
        const r = await world.exec(admin.instanceId, ['sssctl', 'user-checks', '-a', 'acct', '-s', 'sshd', user], { timeoutMs: 30_000 });
        return /pam_acct_mgmt: (.*)/.exec(r.stderr + r.stdout)?.[1]?.trim() ?? `no answer (exit ${r.exitCode})`;
      };
      const alice = await acct('alice');
      const bob = await acct('bob');
      check(alice === 'Success' && bob === 'Permission denied', `login access on ${admin.plan.label} (adGroupName=linux-admins): alice ${alice}, bob ${bob}`);

      const out = outputOf(batchRun);
      check(batchRun.status === 'SUCCEEDED' && out.outcome === 'skipped', `${batch.plan.label} (${batch.instanceId}, not opted in): join SUCCEEDED with outcome "skipped" (${out.reason ?? ''})`, `${batchRun.status} ${out.outcome ?? ''}`);
      const visited = timeline(batchRun).map((r) => r.state);
      check(!visited.includes('Prepare computer object') && !visited.includes('Run join document'), `${batch.plan.label}: no computer object prepared, no command sent (${visited.join(' → ')})`);
      const objs = await computersOf(batch.instanceId);
      check(objs.length === 0, `${batch.plan.label}: no computer object carries its instance ID`, objs.join(', '));
      const nss = await world.exec(batch.instanceId, ['getent', 'passwd', 'alice'], { timeoutMs: 30_000 });
      check(nss.exitCode !== 0, `${batch.plan.label}: alice does not resolve there (exit ${nss.exitCode})`);
    });

    for (const { plan, instanceId } of launched) {
      const run = joins[launched.findIndex((l) => l.instanceId === instanceId)];
      if (!run) continue;
      const out = outputOf(run);
      const rows_ = timeline(run);
      rows.push({
        label: plan.label,
        instanceId,
        optedIn: plan.optedIn,
        ...(plan.loginGroup ? { loginGroup: plan.loginGroup } : {}),
        outcome: String(out.outcome ?? run.status),
        ...(typeof out.computerName === 'string' ? { computerName: out.computerName } : {}),
        ...(out.outcome === 'joined' && run.stopDate ? { joinSeconds: (Date.parse(run.stopDate) - Date.parse(run.startDate)) / 1000 } : {}),
        retries: rows_.reduce((n, r) => n + r.retries, 0),
        ssmWaitSeconds: rows_.filter((r) => r.state === 'Wait for SSM Online').reduce((n, r) => n + r.durationMs, 0) / 1000,
        end: 'running',
      });
    }
    const webName = rows[0]?.computerName ?? '';
    const adminName = rows[1]?.computerName ?? '';

    // 7. Terminate one; the "terminated" event runs leave.
    const leave = await step('leave', `Terminate ${web.plan.label} (${web.instanceId}); EC2 "terminated" starts a leave execution`, async () => {
      await world.terminate(web.instanceId);
      const r = await start('leave', { instanceId: web.instanceId });
      await show(r);
      return r;
    });
    check(leave.status === 'SUCCEEDED', `leave ${leave.status}`, `${leave.failedState ?? ''} ${leave.error ?? ''} ${leave.cause ?? ''}`);
    if (rows[0]) rows[0].end = leave.status === 'SUCCEEDED' ? 'terminated, left' : 'terminated, leave FAILED';

    // 8. The directory, read by the DC itself.
    await step('directory', 'Check the directory through the DC (ldapsearch inside adjoin-dc, as Administrator)', async () => {
      const gone = !(await computerByName(webName)) && (await computersOf(web.instanceId)).length === 0;
      check(webName !== '' && gone, `${webName || web.plan.label}: the terminated instance's computer object is gone`);
      const kept = adminName !== '' && (await computerByName(adminName));
      check(kept, `${adminName || admin.plan.label}: the running instance's computer object remains`);
    });

    // 9. Reconcile: dry run, then real. Nothing live may go.
    await step('reconcile', 'Reconcile the managed OU: a dry run, then a real run (nothing live may be deleted)', async () => {
      for (const dryRun of [true, false]) {
        const r = await start('reconcile', { dryRun });
        await show(r);
        const o = outputOf(r);
        check(r.status === 'SUCCEEDED', `reconcile${dryRun ? ' (dry run)' : ''} ${r.status}: scanned ${o.scanned ?? '?'}, stale ${o.stale ?? '?'}, deleted ${o.deleted ?? '?'}`, `${r.failedState ?? ''} ${r.error ?? ''} ${r.cause ?? ''}`);
        check(o.deleted === 0, `reconcile${dryRun ? ' (dry run)' : ''} deleted nothing`);
      }
      check(adminName !== '' && (await computerByName(adminName)), `${adminName}: still in the directory after reconcile`);
      const nss = await world.exec(admin.instanceId, ['getent', 'passwd', 'alice'], { timeoutMs: 30_000 });
      check(nss.exitCode === 0, `${admin.plan.label}: alice still resolves after reconcile`);
    });
  } catch (err) {
    if (!(err instanceof Aborted) && !aborted) {
      failures.push(`step ${stepNo} stopped: ${err instanceof Error ? err.message : String(err)}`);
      say(style.red(`      ✗ step ${stepNo} stopped: ${err instanceof Error ? err.message : String(err)}`));
    }
  } finally {
    // 10. Down, whatever happened.
    if (labTouched && !aborted) {
      stepNo = STEPS - 1;
      await step('lab down', 'Tear the lab down and check nothing is left', async () => {
        release();
        const report = await world.down();
        const users = world.leaseHolders().filter((pid) => pid !== process.pid);
        if (users.length > 0)
          say(style.yellow(`      another process attached to this demo's lab while it ran and holds it now: ${users.map((p) => `${p} (${commandOf(p)})`).join(', ')}; the lab is left up for it`));
        say(style.dim(`      ${report.netns.length} network namespaces removed, ${report.killed} processes stopped, ${report.unmounted} mounts released`));
        check(report.problems.length === 0, 'down reported no problems', report.problems.join('; '));
        const left = await world.leftovers();
        check(left.netns.length === 0, 'no adjoin-* network namespace left', left.netns.join(' '));
        check(left.processes.length === 0, 'no lab process left', left.processes.join(' '));
        check(left.mounts.length === 0, 'no lab mount left', left.mounts.join(' '));
        check(!left.hostLink, 'no adjoin-host link left');
      }).catch((err: unknown) => {
        failures.push(`teardown: ${err instanceof Error ? err.message : String(err)}`);
      });
      for (const r of rows) if (r.end === 'running') r.end = 'running until lab down';
    }
    if (aborted) await teardown; // the signal handler exits the process when it is done
    if (opts.handleSignals ?? true) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }

  const totalMs = Date.now() - t0;
  say('');
  say(style.bold('Summary'));
  say(
    indent(
      table(
        ['INSTANCE', 'NAME', 'OPTED IN', 'OUTCOME', 'COMPUTER', 'JOIN', 'SSM WAIT', 'RETRIES', 'AT THE END'],
        rows.map((r) => [r.instanceId, r.label, r.optedIn ? `yes${r.loginGroup ? ` (${r.loginGroup})` : ''}` : 'no', r.outcome === 'joined' ? style.green(r.outcome) : r.outcome, r.computerName ?? '-', r.joinSeconds !== undefined ? `${r.joinSeconds.toFixed(1)}s` : '-', r.optedIn ? `${r.ssmWaitSeconds.toFixed(1)}s` : '-', String(r.retries), r.end]),
        style,
      ),
      '  ',
    ),
  );
  const phases = Object.entries(stepsMs).map(([k, v]) => (k === 'lab up' && waitedMs > 1000 ? `${k} ${duration(v - waitedMs)} (+${duration(waitedMs)} waiting for another lab user)` : `${k} ${duration(v)}`));
  say(style.dim(`  ${phases.join(' · ')}`));
  const exitCode = failures.length === 0 ? 0 : 1;
  say(
    exitCode === 0
      ? style.green(`Lab demo passed: every expectation held. Total ${seconds(totalMs - waitedMs)}${waitedMs > 1000 ? ` (+${seconds(waitedMs)} waiting for another lab user)` : ''}.`)
      : style.red(`Lab demo FAILED: ${failures.length} expectation(s) did not hold (total ${seconds(totalMs)}):\n${failures.map((f) => `  - ${f}`).join('\n')}`),
  );
  return { exitCode, failures, rows, stepsMs, totalMs, waitedMs, executions };
}

if (require.main === module) {
  runDemo().then(
    (r) => process.exit(r.exitCode),
    (err: unknown) => {
      process.stderr.write(`lab demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      void world.down().finally(() => process.exit(1));
    },
  );
}
