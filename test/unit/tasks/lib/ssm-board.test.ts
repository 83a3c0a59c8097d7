/**
 * The pure parts of the SSM Online board (tasks/lib/ssm-board.ts): the index shard of an
 * instance, the sweep's cutoff, and what a waiting join reads from its claim.
 */
import { createHash } from 'node:crypto';
import { newClaim } from '../../../../tasks/lib/claims';
import type { Claim, Fleet, Pacer, SsmBoard } from '../../../../tasks/lib/ports';
import type { Settings } from '../../../../tasks/lib/settings';
import { BOARD_SHARDS, BOARD_SLACK_SECONDS, boardOn, boardShard, registered, registration, registrationAging, seenOnline, sweepCutoff, sweepKey } from '../../../../tasks/lib/ssm-board';
import { WINDOWS_DEFAULTS } from '../../../../tasks/lib/windows-settings';
import { ACCOUNT, INSTANCE, REGION, testSettings } from '../../../fakes';

const NOW = 1_800_000_000;
const ref = { account: ACCOUNT, region: REGION, instanceId: INSTANCE };
/** EC2-like instance IDs (17 hex digits), reproducible: hex of a hash of `seed` and i. */
const instanceIds = (n: number, seed: string): string[] => Array.from({ length: n }, (_, i) => `i-${createHash('sha256').update(`${seed}/${i}`).digest('hex').slice(0, 17)}`);
const shardOf = (instanceId: string): number => Number(boardShard({ ...ref, instanceId }).split('/')[2]);
/** How many of `ids` fall in each shard. */
function counts(ids: string[]): number[] {
  const out = new Array<number>(BOARD_SHARDS).fill(0);
  for (const id of ids) out[shardOf(id)] = (out[shardOf(id)] ?? 0) + 1;
  return out;
}

describe('boardShard', () => {
  it('is <account>/<region>/<0-9>, the same for the same instance every time', () => {
    // Act
    const shard = boardShard(ref);
    // Assess
    expect(shard).toMatch(new RegExp(`^${ACCOUNT}/${REGION}/[0-9]$`));
    expect(boardShard({ ...ref })).toBe(shard);
    const ids = instanceIds(200, 'stable');
    expect(ids.map((instanceId) => boardShard({ ...ref, instanceId }))).toEqual(ids.map((instanceId) => boardShard({ ...ref, instanceId })));
    expect(BOARD_SHARDS).toBe(10);
  });

  it('the shard number depends on the instance ID only (account and Region only prefix it)', () => {
    // Prepare
    const digit = (s: string): string => s.slice(s.lastIndexOf('/') + 1);
    // Act / Assess
    for (const instanceId of instanceIds(50, 'prefix')) {
      const here = boardShard({ ...ref, instanceId });
      const there = boardShard({ account: '210987654321', region: 'us-east-1', instanceId });
      expect(there).toBe(`210987654321/us-east-1/${digit(here)}`);
    }
  });

  it.each(['burst-a', 'burst-b', 'burst-c'])('spreads 1,000 instance IDs (%s) over all 10 shards, none with more than twice its share', (seed) => {
    // Act
    const c = counts(instanceIds(1000, seed));
    // Assess
    expect(c.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.min(...c)).toBeGreaterThan(0);
    expect(Math.max(...c)).toBeLessThanOrEqual(200);
  });

  it('spreads IDs that differ only in their last digits too (consecutive IDs: at most one shard apart in size)', () => {
    // Prepare
    const consecutive = Array.from({ length: 1000 }, (_, i) => `i-0abc${i.toString(16).padStart(13, '0')}`);
    // Act
    const c = counts(consecutive);
    // Assess
    expect(Math.min(...c)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...c)).toBeLessThanOrEqual(200);
  });

  it('the sweep line is one per account and Region', () => {
    expect(sweepKey(ref)).toBe(`sweep/${ACCOUNT}/${REGION}/ssm-online`);
    expect(sweepKey({ account: ACCOUNT, region: 'us-east-1' })).not.toBe(sweepKey(ref));
  });
});

describe('sweepCutoff (the oldest registration a sweep still reads)', () => {
  const withDeadlines = (linux: number, windows?: number): Pick<Settings, 'timings' | 'windows'> => {
    const s = testSettings();
    return {
      timings: { ...s.timings, ssmOnlineDeadlineSeconds: linux },
      ...(windows !== undefined ? { windows: { ...WINDOWS_DEFAULTS, ssmOnlineDeadlineSeconds: windows } } : {}),
    };
  };
  it.each<[string, number, number | undefined, number]>([
    ['Linux only', 900, undefined, 900],
    ['Windows waits longer', 900, 1200, 1200],
    ['Linux waits longer', 1800, 1200, 1800],
  ])('%s: now - the longer SSM deadline - 300 s', (_case, linux, windows, longest) => {
    // Act
    const cutoff = sweepCutoff({ settings: { ...testSettings(), ...withDeadlines(linux, windows) } }, NOW);
    // Assess
    expect(cutoff).toBe(NOW - longest - 300);
    expect(BOARD_SLACK_SECONDS).toBe(300);
  });
});

describe('registrationAging (a registration its holder refreshes so the sweeps still read it)', () => {
  it.each<[string, number | undefined, boolean]>([
    ['just registered', NOW, false],
    ['exactly the longest deadline ago', NOW - 900, false],
    ['older than the longest deadline', NOW - 901, true],
    ['past the sweep cutoff', NOW - 900 - 300 - 1, true],
    ['no ssmWaitAt', undefined, true],
  ])('%s', (_case, ssmWaitAt, aging) => {
    // Prepare
    const s = testSettings();
    const settings = { ...s, timings: { ...s.timings, ssmOnlineDeadlineSeconds: 900 } };
    // Act / Assess
    expect(registrationAging(ssmWaitAt === undefined ? {} : { ssmWaitAt }, { settings }, NOW)).toBe(aging);
  });
});

describe('what a waiting join reads from its claim', () => {
  const base = newClaim(`${ACCOUNT}/${REGION}/${INSTANCE}`, 'exec-1', NOW, 900);
  const onBoard: Claim = { ...base, ...registration(ref, 2, NOW + 5) };
  const marked: Claim = { ...onBoard, ssmOnlineAt: NOW + 30 };
  delete marked.ssmWait;

  it('registration: the shard, when, the round, not yet Online', () => {
    expect(registration(ref, 2, NOW + 5)).toEqual({ ssmWait: boardShard(ref), ssmWaitAt: NOW + 5, ssmWaitRound: 2, ssmOnlineAt: 0 });
  });

  it.each<[string, Claim | undefined, number, boolean, boolean]>([
    ['no claim', undefined, 2, false, false],
    ['a claim never on the board', base, 2, false, false],
    ['on the board this round, not yet seen', onBoard, 2, true, false],
    ['seen Online this round (off the board)', marked, 2, false, true],
    ['on the board in an earlier round', onBoard, 3, false, false],
    ['seen Online in an earlier round', marked, 3, false, false],
    ['an Online time of 0 is "not yet"', { ...marked, ssmOnlineAt: 0 }, 2, false, false],
  ])('%s', (_case, claim, round, isRegistered, isSeen) => {
    expect(registered(claim, round)).toBe(isRegistered);
    expect(seenOnline(claim, round)).toBe(isSeen);
  });
});

describe('boardOn', () => {
  const board = {} as SsmBoard;
  const pacer = {} as Pacer;
  const many = { ssmPingStatuses: () => Promise.resolve(new Map()) } as unknown as Fleet;
  const one = {} as Fleet;
  const paced = (n: number): Settings => ({ ...testSettings(), pacing: { describeInstanceInformation: n } });
  it.each<[string, Parameters<typeof boardOn>[0], Fleet, boolean]>([
    ['board, pacer, paced, a fleet that asks for many', { board, pacer, settings: paced(10) }, many, true],
    ['no board', { pacer, settings: paced(10) }, many, false],
    ['no pacer', { board, settings: paced(10) }, many, false],
    ['DescribeInstanceInformation not paced', { board, pacer, settings: paced(0) }, many, false],
    ['no pacing at all', { board, pacer, settings: testSettings() }, many, false],
    ['a fleet that asks one at a time', { board, pacer, settings: paced(10) }, one, false],
  ])('%s', (_case, deps, fleet, on) => {
    expect(boardOn(deps, fleet)).toBe(on);
  });
});
