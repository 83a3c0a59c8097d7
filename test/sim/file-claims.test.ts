/**
 * The lab's claims table on disk (lab/world/claims.ts): the same rules as the in-memory table
 * (lab/sim/claims.ts) and the DynamoDB condition (tasks/lib/claims.ts), a claim that outlives
 * the object (the process) that took it, and one winner when separate processes race.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SimClaims } from '../../lab/sim/claims';
import { FileClaims } from '../../lab/world/claims';
import type { Claims, SsmBoard } from '../../tasks/lib/ports';

const NOW = 1_800_000_000;
const LEASE = 600;
const KEY = '111122223333/eu-west-1/i-0123456789abcdef0';
let dir = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-claims-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One sequence of calls, the answers as text: run on both tables, they must agree. */
async function script(c: Claims): Promise<string[]> {
  const out: string[] = [];
  const take = async (exec: string, now: number) => {
    const r = await c.take(KEY, exec, now, LEASE);
    out.push(r.taken ? `take ${exec}: taken` : `take ${exec}: held by ${r.holder.execution} (${r.holder.status})`);
  };
  await take('a', NOW);
  await take('b', NOW + 1); // held by a
  await take('a', NOW + 2); // same execution (a retried or redriven task)
  out.push(`update by b: ${await c.update(KEY, 'b', { status: 'failed' })}`);
  out.push(`update by a: ${await c.update(KEY, 'a', { status: 'failed', objectGuid: '00000000-0000-4000-8000-000000000001' })}`);
  await take('b', NOW + 3); // a failed: no longer blocks
  out.push(`joined by b: ${await c.update(KEY, 'b', { status: 'joined' })}`);
  out.push(`unlessJoined by b: ${await c.update(KEY, 'b', { status: 'failed' }, { unlessJoined: true })}`);
  await take('c', NOW + 10 * LEASE); // joined: never, even after the lease
  await c.take('other', 'x', NOW, LEASE);
  await take('d', NOW); // after another key: still b's
  const got = await c.get(KEY);
  out.push(`item: ${got?.execution} ${got?.status} ${got?.objectGuid ?? '-'} lease ${got ? got.leaseUntil - got.claimedAt : '-'}`);
  out.push(`absent: ${(await c.get('none')) === undefined ? 'undefined' : 'an item'}`);
  return out;
}

describe('the lab claims table on disk', () => {
  it('answers every call as the in-memory table does (same take and update rules)', async () => {
    const onDisk = await script(new FileClaims(path.join(dir, 'claims.json')));
    const inMemory = await script(new SimClaims({ now: () => new Date(NOW * 1000) }));
    expect(onDisk).toEqual(inMemory);
    expect(onDisk).toContain('take b: held by a (joining)');
    expect(onDisk).toContain('take b: taken');
    expect(onDisk).toContain('take c: held by b (joined)');
  });

  it('the SSM Online board answers alike on disk and in memory: waiting by shard and age, the Online mark, the sweeps\' health', async () => {
    const board = async (c: Claims & SsmBoard): Promise<string[]> => {
      const shard = '111122223333/eu-west-1/3';
      await c.take(KEY, 'join-1', NOW, LEASE);
      await c.update(KEY, 'join-1', { ssmWait: shard, ssmWaitAt: NOW, ssmWaitRound: 0, ssmOnlineAt: 0 });
      const out = [
        `waiting ${JSON.stringify(await c.waiting(shard, NOW - 10))}`,
        `too old ${JSON.stringify(await c.waiting(shard, NOW + 1))}`,
        `other shard ${JSON.stringify(await c.waiting('111122223333/eu-west-1/4', 0))}`,
        `mark ${String(await c.markOnline(KEY, NOW + 7))}`,
        `mark again ${String(await c.markOnline(KEY, NOW + 8))}`,
        `after ${JSON.stringify(await c.waiting(shard, 0))}`,
      ];
      const item = await c.get(KEY);
      out.push(`item ${String(item?.ssmWait)} ${String(item?.ssmOnlineAt)}`);
      await c.recordSweep('board/111122223333/eu-west-1', 'ok', NOW);
      await c.recordSweep('board/111122223333/eu-west-1', 'failed', NOW + 5);
      out.push(`health ${JSON.stringify(await c.sweepHealth('board/111122223333/eu-west-1'))} ${JSON.stringify(await c.sweepHealth('board/x/y'))}`);
      return out;
    };
    const onDisk = await board(new FileClaims(path.join(dir, 'claims.json')));
    expect(onDisk).toEqual(await board(new SimClaims({ now: () => new Date(NOW * 1000) })));
    expect(onDisk).toEqual([
      `waiting ["${KEY}"]`, 'too old []', 'other shard []', 'mark true', 'mark again false', 'after []',
      `item undefined ${NOW + 7}`, `health {"okAt":${NOW},"failedAt":${NOW + 5}} {}`,
    ]);
  });

  it('a claim outlives its table object: a new one on the same file (a new process) sees it, and the holder keeps it', async () => {
    const file = path.join(dir, 'claims.json');
    await new FileClaims(file).take(KEY, 'join-1', NOW, LEASE);
    const later = new FileClaims(file);
    expect(await later.get(KEY)).toMatchObject({ execution: 'join-1', status: 'joining' });
    expect(await later.take(KEY, 'join-2', NOW + 5, LEASE)).toMatchObject({ taken: false, holder: { execution: 'join-1' } });
    expect(await later.take(KEY, 'join-1', NOW + 5, LEASE)).toMatchObject({ taken: true });
    // Written atomically, owner-only, no temporary or lock file left.
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['claims.json']);
  });

  it('separate processes racing for one instance: exactly one takes it', async () => {
    const file = path.join(dir, 'claims.json');
    const tsx = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const code = `import { FileClaims } from ${JSON.stringify(path.join(__dirname, '..', '..', 'lab', 'world', 'claims'))};
      new FileClaims(process.argv[1]).take(${JSON.stringify(KEY)}, process.argv[2], ${NOW}, ${LEASE}).then((r) => process.stdout.write(r.taken ? 'taken' : 'held'));`;
    const runs = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((name) => promisify(execFile)(tsx, ['-e', code, file, name], { timeout: 50_000 })));
    const answers = runs.map((r) => r.stdout);
    expect(answers.filter((a) => a === 'taken')).toHaveLength(1);
    expect(answers.filter((a) => a === 'held')).toHaveLength(3);
    const winner = ['p1', 'p2', 'p3', 'p4'][answers.indexOf('taken')];
    expect(await new FileClaims(file).get(KEY)).toMatchObject({ execution: winner });
  });
});
