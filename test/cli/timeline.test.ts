import type { ExecutionDetail } from '../../cli/backend';
import { makeStyle } from '../../cli/format';
import { showExecution } from '../../cli/render';
import { buildTimeline } from '../../cli/timeline';
import { NOW, loadHistory } from './helpers';

const plain = makeStyle(false);
const ESC = String.fromCharCode(27);

describe('buildTimeline from a recorded GetExecutionHistory', () => {
  const events = loadHistory('join-redriven.history.json');
  const failedAt = events.findIndex((e) => e.type === 'ExecutionFailed');
  const firstRound = events.slice(0, failedAt + 1);

  it('marks the state a failed execution failed in, with its retries, error and cause', () => {
    // Act
    const t = buildTimeline(firstRound);

    // Assess
    expect(t.steps.map((s) => s.name)).toEqual(['Begin', 'Read instance', 'Opted in?', 'Settle', 'Wait for SSM Online']);
    expect(t.failedState).toBe('Wait for SSM Online');
    const ssm = t.steps[4];
    expect(ssm).toMatchObject({ failed: true, attempts: 3, retries: 2, error: 'SsmAgentNotOnline', retried: { SsmAgentNotOnline: 2 } });
    expect(ssm?.cause).toMatch(/ConnectionLost/);
    expect(t.steps.filter((s) => s.failed)).toHaveLength(1);
    expect(t.end).toMatchObject({ status: 'FAILED', error: 'SsmAgentNotOnline' });
    expect(t.steps[3]?.durationMs).toBeGreaterThanOrEqual(30_000);
  });

  it('splits rounds at a redrive and folds polling loops into one row per state', () => {
    const t = buildTimeline(events);

    expect(t.redrives).toHaveLength(1);
    expect(t.redrives[0]?.round).toBe(1);
    const round1 = t.steps.filter((s) => s.round === 1).map((s) => `${s.name}×${s.visits}`);
    expect(round1).toEqual([
      'Wait for SSM Online×1',
      'Prepare computer object×1',
      'Run join document×1',
      'Wait for join command×2',
      'Check join command×2',
      'Join finished?×2',
      'Verify NSS×1',
      'Wait for verification×1',
      'Check verification×1',
      'Verified?×1',
      'Record result×1',
      'Joined×1',
      'Done×1',
    ]);
    // The failure of round 0 stays where it happened; round 1 retried a transient error and went on.
    expect(t.steps.find((s) => s.round === 0 && s.name === 'Wait for SSM Online')?.failed).toBe(true);
    const prepare = t.steps.find((s) => s.name === 'Prepare computer object');
    expect(prepare).toMatchObject({ failed: false, caught: false, retries: 1, retried: { DirectoryUnavailable: 1 } });
    expect(prepare?.error).toBeUndefined();
    expect(t.end?.status).toBe('SUCCEEDED');
    expect(t.failedState).toBe('Wait for SSM Online'); // the last failure, before the redrive
  });

  it('summarises what a join did from the state outputs', () => {
    const t = buildTimeline(events);
    expect(t.summary).toMatchObject({
      instanceId: 'i-0123456789abcdef0',
      outcome: 'joined',
      computerName: 'EC2-0123ABCDEF0',
      computerDn: 'CN=EC2-0123ABCDEF0,OU=adjoin,DC=corp,DC=example,DC=com',
      computerAction: 'created',
      commandIds: ['0b5e7c1a-1111-4a9e-9d3c-aaaaaaaaaaaa', '0b5e7c1a-2222-4a9e-9d3c-bbbbbbbbbbbb'],
    });
  });

  it('does not care about the order the pages came in', () => {
    const shuffled = [...events].reverse();
    expect(buildTimeline(shuffled).steps.map((s) => s.name)).toEqual(buildTimeline(events).steps.map((s) => s.name));
  });

  it('treats an error routed by a Catch as caught, not failed', () => {
    const at = (s: number): Date => new Date(Date.UTC(2026, 10, 21, 9, 0, s));
    const t = buildTimeline([
      { id: 1, type: 'ExecutionStarted', timestamp: at(0), executionStartedEventDetails: { input: '{}' } },
      { id: 2, previousEventId: 1, type: 'TaskStateEntered', timestamp: at(1), stateEnteredEventDetails: { name: 'Prepare computer object' } },
      { id: 3, previousEventId: 2, type: 'LambdaFunctionScheduled', timestamp: at(1) },
      { id: 4, previousEventId: 3, type: 'LambdaFunctionFailed', timestamp: at(2), lambdaFunctionFailedEventDetails: { error: 'InstanceGone', cause: 'i-0123456789abcdef0 is terminated' } },
      { id: 5, previousEventId: 4, type: 'TaskStateEntered', timestamp: at(3), stateEnteredEventDetails: { name: 'Remove what the join made' } },
      { id: 6, previousEventId: 5, type: 'LambdaFunctionScheduled', timestamp: at(3) },
      { id: 7, previousEventId: 6, type: 'LambdaFunctionSucceeded', timestamp: at(4) },
      { id: 8, previousEventId: 7, type: 'TaskStateExited', timestamp: at(4), stateExitedEventDetails: { name: 'Remove what the join made', output: '{"outcome":"abandoned","reason":"instance gone"}' } },
      { id: 9, previousEventId: 8, type: 'ExecutionSucceeded', timestamp: at(5), executionSucceededEventDetails: { output: '{"outcome":"abandoned","reason":"instance gone"}' } },
    ]);
    expect(t.steps[0]).toMatchObject({ name: 'Prepare computer object', caught: true, failed: false, error: 'InstanceGone', durationMs: 2000 });
    expect(t.failedState).toBeUndefined();
    expect(t.summary.outcome).toBe('abandoned');
  });

  it('leaves a running execution\u2019s current state open', () => {
    const entered = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'Wait for SSM Online');
    const running = events.slice(0, entered + 3); // inside "Wait for SSM Online", first attempt under way
    const t = buildTimeline(running);
    const last = t.steps[t.steps.length - 1];
    expect(last?.name).toBe('Wait for SSM Online');
    expect(last?.end).toBeUndefined();
    expect(t.end).toBeUndefined();
  });
});

describe('showExecution (the timeline as printed)', () => {
  const events = loadHistory('join-redriven.history.json');
  const failedAt = events.findIndex((e) => e.type === 'ExecutionFailed');
  const detail: ExecutionDetail = {
    id: 'arn:aws:states:eu-west-1:123456789012:execution:adjoin-join:join-i-0123456789abcdef0-20261121T090000Z-ab12',
    name: 'join-i-0123456789abcdef0-20261121T090000Z-ab12',
    workflow: 'join',
    status: 'FAILED',
    startDate: new Date('2026-11-21T09:00:00Z'),
    stopDate: new Date('2026-11-21T09:01:00Z'),
    instanceId: 'i-0123456789abcdef0',
    error: 'SsmAgentNotOnline',
    cause: 'SSM agent of i-0123456789abcdef0 is ConnectionLost',
  };

  it('prints one aligned row per state, the failing one marked, and how to redrive', () => {
    const text = showExecution(detail, buildTimeline(events.slice(0, failedAt + 1)), { io: false, now: NOW }, plain);
    const lines = text.split('\n');
    const header = lines.find((l) => l.includes('STATE') && l.includes('RETRIES'));
    expect(header).toBeDefined();
    const row = lines.find((l) => l.startsWith('✗'));
    expect(row).toMatch(/^✗\s+Wait for SSM Online\s+09:00:30\.\d{3}\s+\S+\s+2 \(SsmAgentNotOnline×2\)\s+SsmAgentNotOnline$/);
    // Columns line up: every row's STATE column starts where the header's does.
    const col = header?.indexOf('STATE') ?? -1;
    for (const l of lines.filter((x) => /^[✓✗↷…] /.test(x))) expect(l.slice(col, col + 1)).not.toBe(' ');
    expect(text).toContain('Failed in Wait for SSM Online: SsmAgentNotOnline');
    expect(text).toContain('adjoin redrive join-i-0123456789abcdef0-20261121T090000Z-ab12');
    expect(text).toContain('2026-11-21 09:00:00Z (3h ago)');
    expect(text).not.toContain(`${ESC}[`); // no colour when told so
  });

  it('prints the redrive round and the join summary, and state data only with --io', () => {
    const done = { ...detail, status: 'SUCCEEDED' as const, error: undefined, cause: undefined, redriveCount: 1 };
    const t = buildTimeline(events);
    const text = showExecution(done, t, { io: false, now: NOW }, plain);
    expect(text).toMatch(/── redrive 1 at 2026-11-21 10:00:\d\dZ ──/);
    expect(text).toMatch(/Wait for join command ×2/);
    expect(text).toContain('computer      EC2-0123ABCDEF0 (created)');
    expect(text).toContain('object        CN=EC2-0123ABCDEF0,OU=adjoin,DC=corp,DC=example,DC=com');
    expect(text).toContain('commands      0b5e7c1a-1111-4a9e-9d3c-aaaaaaaaaaaa, 0b5e7c1a-2222-4a9e-9d3c-bbbbbbbbbbbb');
    expect(text).not.toContain('input:');
    const withIo = showExecution(done, t, { io: true, now: NOW }, plain);
    expect(withIo).toContain('Record result: output:');
    expect(withIo).toMatch(/"adjoin:status": ?"joined"/);
  });

  it('colours only when the style says so', () => {
    const text = showExecution(detail, buildTimeline(events.slice(0, failedAt + 1)), { io: false, now: NOW }, makeStyle(true));
    expect(text).toContain(`${ESC}[31m`);
  });
});
