/**
 * Finding 9, measured on the real join: while the REAL join document runs in a lab instance
 * (through LabFleet, real adcli 0.9.1 against the Samba AD DC), every process's command line is
 * read from /proc (world-readable: what any local user sees) every few milliseconds. adcli must
 * be seen running with `--stdin-password`, and the one-time password must be in no command line.
 * A control process with a marker in its argv proves the scan sees the instance's processes.
 * Root only (jest.lab.config.js); run it under `flock /tmp/adjoin-lab-machine.lock`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { LabFleet } from '../../lab/world/fleet';
import { ensureLab, joinParameters, prepareComputer, runDocument, serviceClient, type PreparedComputer } from './helpers';

let restore: () => Promise<void> = () => Promise.resolve();
const fleet = new LabFleet();
let instanceId = '';
let computer: PreparedComputer | undefined;
let secretName = '';

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  instanceId = (await world.launch({ tags: { 'Domain:Join': 'true', Name: 'join-hardening' } })).instanceId;
  computer = await prepareComputer(instanceId);
  secretName = await fleet.putJoinSecret(instanceId, computer.otp);
});

afterAll(async () => {
  try {
    await fleet.settle();
    if (instanceId) {
      await world.terminate(instanceId).catch(() => undefined);
      await fleet.deleteJoinSecret(instanceId);
    }
    if (computer) {
      const c = await serviceClient();
      try {
        await c.del(computer.dn).catch(() => undefined);
      } finally {
        await c.unbind();
      }
    }
  } finally {
    await restore();
  }
});

/** Every command line on the machine now (the instances share its PID namespace). */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' '));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Scans /proc until `done` resolves; returns every command line seen that matches `keep`. */
async function scanWhile<T>(done: Promise<T>, keep: (line: string) => boolean): Promise<{ result: T; seen: string[]; scans: number }> {
  const seen = new Set<string>();
  let finished = false;
  let scans = 0;
  const result = done.finally(() => { finished = true; });
  const deadline = Date.now() + 180_000;
  while (!finished && Date.now() < deadline) {
    for (const l of commandLines()) if (keep(l)) seen.add(l);
    scans++;
    await new Promise((r) => setTimeout(r, 5));
  }
  return { result: await result, seen: [...seen], scans };
}

describe('the one-time password never appears in a command line', () => {
  test('control: the scan sees a process inside the instance, by its argv', async () => {
    const marker = `adjoin-marker-${randomBytes(6).toString('hex')}`;
    const { seen } = await scanWhile(world.exec(instanceId, ['sh', '-c', 'sleep 1; true', marker]), (l) => l.includes(marker));
    expect(seen.length).toBeGreaterThan(0);
  });

  test('the real join: adcli runs with --stdin-password, and no process ever carries the password', async () => {
    const otp = computer!.otp;
    const { result, seen, scans } = await scanWhile(
      runDocument(fleet, instanceId, 'join', joinParameters(computer!, secretName)),
      (l) => l.includes(otp) || /adcli (join|testjoin)/.test(l),
    );
    process.stderr.write(`join-hardening: ${scans} scans of /proc during the join; adcli command lines seen:\n${seen.map((l) => `  ${l}`).join('\n')}\n`);
    expect(result.result).toMatchObject({ status: 'Success', exitCode: 0 });
    expect(result.result.stdout).toContain(`joined lab.example.com as ${computer!.name}`);
    expect(seen.filter((l) => l.includes(otp))).toEqual([]);
    expect(seen.some((l) => /adcli join .*--login-type=computer --stdin-password/.test(l))).toBe(true);
    // The one-time password did its job: the keytab holds the computer's own key now.
    const k = await world.exec(instanceId, ['sh', '-c', `KRB5CCNAME=MEMORY: kinit -k '${computer!.name}$@LAB.EXAMPLE.COM' && echo keytab-ok`]);
    expect(k.stdout).toContain('keytab-ok');
  });
});
