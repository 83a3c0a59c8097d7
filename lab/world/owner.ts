/**
 * One lab per machine: the namespaces, the `adjoin-host` link and 10.77.0.0/24 are machine-wide.
 * `/run/adjoin-lab/owner.json` names the state folder of the lab that is up, so a second
 * checkout (another ADJOIN_LAB_DIR) neither tears down nor clobbers it; `lock` serializes
 * up()/down() between processes. Both live on /run (tmpfs): a reboot clears them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive, sleep } from './sh';

export const OWNER_DIR = '/run/adjoin-lab';
const OWNER_FILE = path.join(OWNER_DIR, 'owner.json');
const LOCK_FILE = path.join(OWNER_DIR, 'lock');

export interface Owner {
  dir: string;
  pid: number;
  since: string;
}

export function readOwner(): Owner | undefined {
  try {
    return JSON.parse(fs.readFileSync(OWNER_FILE, 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export function writeOwner(dir: string): void {
  fs.mkdirSync(OWNER_DIR, { recursive: true, mode: 0o700 });
  fs.writeFileSync(OWNER_FILE, JSON.stringify({ dir, pid: process.pid, since: new Date().toISOString() }), { mode: 0o600 });
}

export function clearOwner(dir: string): void {
  const o = readOwner();
  if (o && o.dir === dir) fs.rmSync(OWNER_FILE, { force: true });
}

/**
 * Another folder's lab, when one is up: its owner record names another folder whose state file
 * still exists (that lab may be in use by another process). Undefined otherwise.
 */
export function otherLab(dir: string): Owner | undefined {
  const o = readOwner();
  if (!o || o.dir === dir) return undefined;
  // Stale when its state is gone or the DC namespace is not there any more.
  return fs.existsSync(path.join(o.dir, 'state.json')) && fs.existsSync('/run/netns/adjoin-dc') ? o : undefined;
}

/** Runs fn holding the machine-wide lab lock (bounded wait; a dead holder's lock is taken over). */
export async function withLabLock<T>(fn: () => Promise<T>, waitMs = 180_000): Promise<T> {
  fs.mkdirSync(OWNER_DIR, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  let held = false;
  for (let i = 0; i < 10_000 && !held; i++) {
    try {
      fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx', mode: 0o600 });
      held = true;
    } catch {
      const holder = Number(fs.readFileSync(LOCK_FILE, { encoding: 'utf8', flag: 'a+' }).trim());
      if (!Number.isInteger(holder) || holder <= 0 || !alive(holder) || holder === process.pid) {
        fs.rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() - t0 > waitMs) throw new Error(`lab: another process (pid ${holder}) is bringing a lab up or down; gave up after ${Math.round(waitMs / 1000)} s`);
      await sleep(250);
    }
  }
  if (!held) throw new Error('lab: could not take the lab lock');
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_FILE, { force: true });
  }
}
