/**
 * The local runtime itself, on small hand-written ASL: refusal of what aws-local-stepfunctions
 * would silently ignore, virtual time for Wait and Retry, redrive, timeout, the store and the
 * timeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExecutionStore,
  asDefinition,
  LocalEngine,
  VirtualClock,
  executionsDir,
  listExecutions,
  getExecution,
  statePath,
  timeline,
  transitions,
  unsupportedFeatures,
  type TaskHandler,
} from '../../engine';
import { simDeps } from '../../lab/sim';
import { ConfigurationError, DirectoryUnavailable, Errors, SsmAgentNotOnline } from '../../tasks/lib/errors';
import type { TaskId } from '../../tasks/registry';

type State = Record<string, unknown>;
const arn = (id: TaskId): string => `arn:aws:lambda:eu-west-1:123456789012:function:adjoin-${id}`;

/** A three-state machine: Task → Wait 30 s → Task with a SsmAgentNotOnline retry policy. */
function machine(extra: Record<string, State> = {}, top: State = {}): Record<string, unknown> {
  return {
    StartAt: 'Read instance',
    ...top,
    States: {
      'Read instance': {
        Type: 'Task',
        Resource: arn('read-instance'),
        Parameters: {
          'event.$': '$',
          'executionName.$': '$$.Execution.Name',
          'redriveCount.$': '$$.Execution.RedriveCount',
          'startTime.$': '$$.Execution.StartTime',
        },
        ResultPath: '$.instance',
        Next: 'Settle',
      },
      Settle: { Type: 'Wait', Seconds: 30, Next: 'Wait for SSM Online' },
      'Wait for SSM Online': {
        Type: 'Task',
        Resource: arn('check-ssm-agent'),
        ResultPath: '$.ssm',
        Retry: [
          { ErrorEquals: [Errors.SsmAgentNotOnline], IntervalSeconds: 10, BackoffRate: 1.5, MaxDelaySeconds: 20, MaxAttempts: 4 },
          { ErrorEquals: [Errors.DirectoryUnavailable], IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 6, JitterStrategy: 'FULL' },
        ],
        End: true,
      },
      ...extra,
    },
  };
}

function engineWith(def: Record<string, unknown>, handlers: Partial<Record<TaskId, TaskHandler>>, opts: { store?: ExecutionStore } = {}) {
  const sim = simDeps();
  const engine = new LocalEngine({ test: def }, { deps: sim.provider, clock: sim.clock, handlers, ...opts });
  return { sim, engine };
}

const echo: TaskHandler = (input) => input;

describe('refuses what the local engine would silently ignore', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['JSONata at the top level', machine({}, { QueryLanguage: 'JSONata' }), /top-level field QueryLanguage/],
    ['JSONata in a state', machine({ X: { Type: 'Pass', QueryLanguage: 'JSONata', End: true } }), /state "X": field QueryLanguage/],
    ['Assign', machine({ X: { Type: 'Pass', Assign: { a: 1 }, End: true } }), /state "X": field Assign/],
    ['Output', machine({ X: { Type: 'Pass', Output: '{% $states.input %}', End: true } }), /state "X": field Output/],
    ['Arguments', machine({ X: { Type: 'Task', Resource: arn('read-instance'), Arguments: {}, End: true } }), /state "X": field Arguments/],
    ['Assign in a Catch', machine({ X: { Type: 'Task', Resource: arn('read-instance'), Catch: [{ ErrorEquals: ['States.ALL'], Assign: { e: 1 }, Next: 'Settle' }], End: true } }), /state "X": field Assign/],
    [
      'Distributed Map',
      machine({ M: { Type: 'Map', ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } }),
      /state "M": field ItemProcessor\.ProcessorConfig\.Mode/,
    ],
    ['ItemReader', machine({ M: { Type: 'Map', ItemReader: { Resource: 'arn:aws:states:::s3:getObject' }, Iterator: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } }), /state "M": field ItemReader/],
    ['ResultWriter', machine({ M: { Type: 'Map', ResultWriter: { Resource: 'arn:aws:states:::s3:putObject' }, Iterator: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } }), /state "M": field ResultWriter/],
    ['ItemBatcher', machine({ M: { Type: 'Map', ItemBatcher: { MaxItemsPerBatch: 10 }, Iterator: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } }), /state "M": field ItemBatcher/],
    ['JSONata Map Items', machine({ M: { Type: 'Map', Items: [1, 2], Iterator: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, End: true } }), /state "M": field Items/],
    ['HeartbeatSeconds', machine({ X: { Type: 'Task', Resource: arn('read-instance'), HeartbeatSeconds: 60, End: true } }), /state "X": field HeartbeatSeconds/],
    ['HeartbeatSecondsPath', machine({ X: { Type: 'Task', Resource: arn('read-instance'), HeartbeatSecondsPath: '$.h', End: true } }), /state "X": field HeartbeatSecondsPath/],
    ['.waitForTaskToken', machine({ X: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken', Parameters: { FunctionName: 'adjoin-read-instance' }, End: true } }), /state "X": field Resource: .*waitForTaskToken/],
    ['.sync', machine({ X: { Type: 'Task', Resource: 'arn:aws:states:::states:startExecution.sync:2', End: true } }), /state "X": field Resource: .*\.sync/],
    ['$$.State', machine({ X: { Type: 'Pass', Parameters: { 'entered.$': '$$.State.EnteredTime' }, End: true } }), /state "X": field Parameters\.entered\.\$: .*\$\$\.State/],
    ['$$.State inside a Map', machine({ M: { Type: 'Map', Iterator: { StartAt: 'I', States: { I: { Type: 'Pass', Parameters: { 'n.$': '$$.State.Name' }, End: true } } }, End: true } }), /state "M \/ I": field Parameters/],
    ['an intrinsic in CausePath', machine({ F: { Type: 'Fail', Error: 'X', CausePath: "States.Format('{}', $.a)" } }), /state "F": field CausePath/],
    ['an intrinsic in ErrorPath', machine({ F: { Type: 'Fail', ErrorPath: 'States.JsonToString($.a)', Cause: 'x' } }), /state "F": field ErrorPath/],
  ];

  test.each(cases)('%s', (_label, def, message) => {
    const sim = simDeps();
    const build = () => new LocalEngine({ test: def }, { deps: sim.provider, handlers: { 'read-instance': echo, 'check-ssm-agent': echo } });
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(message);
  });

  test('lists every problem at once, naming the state and the field', () => {
    const def = machine({ X: { Type: 'Task', Resource: arn('read-instance'), HeartbeatSeconds: 5, Assign: {}, End: true } }, { QueryLanguage: 'JSONata' });
    const problems = unsupportedFeatures(asDefinition(def, 'join'), 'join');
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/join: state "X": field HeartbeatSeconds/);
  });

  test('a Task whose Lambda is not a task of the registry', () => {
    const def = machine({ X: { Type: 'Task', Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:someone-else', End: true } });
    const sim = simDeps();
    expect(() => new LocalEngine({ test: def }, { deps: sim.provider, handlers: { 'read-instance': echo, 'check-ssm-agent': echo } })).toThrow(
      /state "X": field Resource: .*someone-else.* is not a task of tasks\/registry\.ts/,
    );
  });

  test('accepts an explicit JSONPath query language, and leaves the given definition untouched', () => {
    const def = machine({}, { QueryLanguage: 'JSONPath', TimeoutSeconds: 3600 });
    const before = JSON.stringify(def);
    engineWith(def, { 'read-instance': echo, 'check-ssm-agent': echo });
    expect(JSON.stringify(def)).toBe(before);
  });
});

describe('virtual time', () => {
  test('a task that sleeps on the stepped clock (in-Lambda polling) moves its execution\'s time: timestamps and duration include it', async () => {
    const { sim, engine } = engineWith(machine(), {
      'read-instance': async () => {
        await sim.clock.sleep(45_000);
        return { slept: true };
      },
      'check-ssm-agent': () => ({ pingStatus: 'Online', at: sim.clock.now().toISOString() }),
    });
    const run = await engine.start('test', { a: 1 }, { name: 'task-sleep' });
    expect(run.status).toBe('SUCCEEDED');
    // 45 s in the task, then Settle 30 s.
    expect((run.output as { ssm: { at: string } }).ssm.at).toBe('2026-01-01T00:01:15.000Z');
    expect(run.stopDate).toBe('2026-01-01T00:01:15.000Z');
    expect(timeline(run).find((r) => r.state === 'Read instance')?.durationMs).toBe(45_000);
  });

  test('a Task without TimeoutSeconds has no state timeout, as in AWS (the library would give it 60 s)', async () => {
    // Discrete time: timers fire in virtual time, so a 61 s task takes no real time.
    const { DiscreteTime } = await import('../../lab/sim/timers');
    const { ScaledClock } = await import('../../engine/clock');
    const time = new DiscreteTime().install();
    try {
      const clock = new ScaledClock('2026-01-01T00:00:00.000Z', 1);
      const sim = simDeps({ speedup: 1 });
      const def = machine();
      const engine = new LocalEngine({ test: def }, {
        deps: sim.provider,
        clock,
        handlers: { 'read-instance': async () => (await clock.sleep(61_000), { late: true }), 'check-ssm-agent': () => ({ pingStatus: 'Online' }) },
      });
      const run = await time.run(engine.start('test', { a: 1 }, { name: 'long-task' }));
      expect(run.error).toBeUndefined();
      expect(run.status).toBe('SUCCEEDED');
      expect((def.States as Record<string, State>)['Read instance']?.TimeoutSeconds).toBeUndefined(); // the definition itself is not changed
    } finally {
      time.uninstall();
    }
  });

  test('a Wait and the retry pauses of the policy move the clock by their real durations, no jitter', async () => {
    let calls = 0;
    const seen: string[] = [];
    const { sim, engine } = engineWith(machine(), {
      'read-instance': echo,
      'check-ssm-agent': () => {
        seen.push(sim.clock.now().toISOString());
        calls += 1;
        if (calls <= 4) throw new SsmAgentNotOnline('not yet');
        return { pingStatus: 'Online' };
      },
    });
    const t0 = Date.now();

    const run = await engine.start('test', { a: 1 }, { name: 'virtual-1' });

    expect(run.status).toBe('SUCCEEDED');
    // Settle 30 s, then retries after 10, 15, 20 (22.5 capped at 20), 20 s.
    expect(seen).toEqual(['00:00:30', '00:00:40', '00:00:55', '00:01:15', '00:01:35'].map((t) => `2026-01-01T${t}.000Z`));
    expect(run.startDate).toBe('2026-01-01T00:00:00.000Z');
    expect(run.stopDate).toBe('2026-01-01T00:01:35.000Z');
    expect(Date.now() - t0).toBeLessThan(5000);
    const rows = timeline(run);
    expect(rows.map((r) => [r.state, r.durationMs, r.retries, r.outcome])).toEqual([
      ['Read instance', 0, 0, 'succeeded'],
      ['Settle', 30_000, 0, 'succeeded'],
      ['Wait for SSM Online', 65_000, 4, 'succeeded'],
    ]);
    expect(transitions(run)).toEqual({ statesEntered: 3, retries: 4, total: 7 });
  });

  test('the context object carries the execution name, RedriveCount 0 and the start time on the virtual clock', async () => {
    const { engine } = engineWith(machine(), { 'read-instance': echo, 'check-ssm-agent': echo });
    const run = await engine.start('test', { a: 1 }, { name: 'ctx-1' });
    expect(run.output).toMatchObject({
      instance: { event: { a: 1 }, executionName: 'ctx-1', redriveCount: 0, startTime: '2026-01-01T00:00:00.000Z' },
    });
    expect(run.executionArn).toBe('arn:aws:states:eu-west-1:123456789012:execution:adjoin-test:ctx-1');
  });

  test('retries exhausted: the execution fails AT that state with the error and cause of the last attempt', async () => {
    const { engine } = engineWith(machine(), {
      'read-instance': echo,
      'check-ssm-agent': () => {
        throw new SsmAgentNotOnline('agent offline: check the instance profile');
      },
    });
    const run = await engine.start('test', {}, { name: 'exhausted' });
    expect(run).toMatchObject({ status: 'FAILED', failedState: 'Wait for SSM Online', error: 'SsmAgentNotOnline', cause: 'agent offline: check the instance profile' });
    expect(run.events.filter((e) => e.type === 'StateRetried')).toHaveLength(4);
    expect(timeline(run).at(-1)).toMatchObject({ state: 'Wait for SSM Online', outcome: 'failed', error: 'SsmAgentNotOnline', retries: 4 });
  });

  test('the execution timeout applies in virtual time', async () => {
    const def = machine({}, { TimeoutSeconds: 60 });
    const { engine } = engineWith(def, {
      'read-instance': echo,
      'check-ssm-agent': () => {
        throw new SsmAgentNotOnline('never');
      },
    });
    const run = await engine.start('test', {}, { name: 'timeout' });
    expect(run.status).toBe('TIMED_OUT');
    expect(run.error).toBe('States.Timeout');
    expect(run.failedState).toBe('Wait for SSM Online');
    expect(run.stopDate).toBe('2026-01-01T00:01:00.000Z');
    expect(run.events.at(-1)).toMatchObject({ type: 'ExecutionTimedOut', time: '2026-01-01T00:01:00.000Z' });
    expect(run.events.some((e) => e.type === 'ExecutionAborted')).toBe(false);
  });

  test('Map iterations run side by side: the Map takes as long as its slowest item', async () => {
    const def = {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          MaxConcurrency: 2,
          Iterator: {
            StartAt: 'Pause',
            States: {
              Pause: { Type: 'Wait', SecondsPath: '$', Next: 'Delete computer object' },
              'Delete computer object': { Type: 'Task', Resource: arn('delete-computer-object'), End: true },
            },
          },
          Next: 'After',
        },
        After: { Type: 'Wait', Seconds: 5, End: true },
      },
    };
    const { sim, engine } = engineWith(def, { 'delete-computer-object': (x) => ({ x, at: sim.clock.now().toISOString() }) });
    const run = await engine.start('test', { items: [100, 40] }, { name: 'map-1' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.stopDate).toBe('2026-01-01T00:01:45.000Z'); // max(100, 40) + 5 s
    expect(statePath(run, { nested: true }).filter((s) => s === 'Pause')).toHaveLength(2);
  });
});

describe('redrive emulation', () => {
  test('resumes AT the failed top-level state with its recorded input, RedriveCount 1, same name', async () => {
    let broken = true;
    const inputs: unknown[] = [];
    const { engine } = engineWith(machine(), {
      'read-instance': echo,
      'check-ssm-agent': (input) => {
        inputs.push(input);
        if (broken) throw new DirectoryUnavailable('down');
        return { fixed: true };
      },
    });
    const failed = await engine.start('test', { a: 1 }, { name: 'redrive-1' });
    expect(failed.failedState).toBe('Wait for SSM Online');
    expect(failed.error).toBe('DirectoryUnavailable');

    broken = false;
    const run = await engine.redrive(failed);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.name).toBe('redrive-1');
    expect(run.redriveCount).toBe(1);
    expect(statePath(run, { part: 1 })).toEqual(['Wait for SSM Online']);
    expect(inputs.at(-1)).toEqual(inputs[0]);
    expect(run.output).toMatchObject({ a: 1, instance: { redriveCount: 0 }, ssm: { fixed: true } });
    expect(run.events.filter((e) => e.part === 0)).toEqual(failed.events);
    await expect(engine.redrive(run)).rejects.toThrow(/ExecutionNotRedrivable/);
  });

  test('a second execution with the same name is refused', async () => {
    const { engine } = engineWith(machine(), { 'read-instance': echo, 'check-ssm-agent': echo });
    await engine.start('test', {}, { name: 'same' });
    await expect(engine.start('test', {}, { name: 'same' })).rejects.toThrow(/ExecutionAlreadyExists/);
  });
});

describe('execution store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'adjoin-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the engine records each execution; list and get read it back', async () => {
    const store = new ExecutionStore(dir);
    const { engine } = engineWith(machine(), { 'read-instance': echo, 'check-ssm-agent': echo }, { store });
    await engine.start('test', { n: 1 }, { name: 'stored-1' });
    await engine.start('test', { n: 2 }, { name: 'stored-2' });

    const all = listExecutions({}, store);
    expect(all.map((r) => r.name).sort()).toEqual(['stored-1', 'stored-2']);
    const one = getExecution('stored-2', 'test', store);
    expect(one).toMatchObject({ name: 'stored-2', workflow: 'test', status: 'SUCCEEDED', input: { n: 2 }, redriveCount: 0 });
    expect(one?.events.length).toBeGreaterThan(4);
    expect(listExecutions({ status: 'FAILED' }, store)).toEqual([]);
    expect(getExecution('nope', undefined, store)).toBeUndefined();
    // Another process (another engine) cannot reuse a stored name, as in Step Functions.
    const other = engineWith(machine(), { 'read-instance': echo, 'check-ssm-agent': echo }, { store });
    await expect(other.engine.start('test', {}, { name: 'stored-1' })).rejects.toThrow(/ExecutionAlreadyExists/);
  });

  test('the default folder is $ADJOIN_LAB_DIR/executions, else .lab/executions', () => {
    expect(executionsDir({ ADJOIN_LAB_DIR: '/tmp/x' })).toBe('/tmp/x/executions');
    expect(executionsDir({})).toBe(join(process.cwd(), '.lab', 'executions'));
  });
});

describe('lambda:invoke resources', () => {
  test('the Payload is passed in and the result comes back under Payload, like the service integration', async () => {
    const def = {
      StartAt: 'Read instance',
      States: {
        'Read instance': {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: arn('read-instance'), 'Payload.$': '$' },
          ResultSelector: { 'r.$': '$.Payload' },
          End: true,
        },
      },
    };
    const { engine } = engineWith(def, { 'read-instance': (x) => ({ got: x }) });
    const run = await engine.start('test', { a: 1 }, { name: 'invoke-1' });
    expect(run.output).toEqual({ r: { got: { a: 1 } } });
  });

  test('a VirtualClock only moves forward', () => {
    const c = new VirtualClock('2026-01-01T00:00:00Z');
    c.advance(1.5);
    c.advanceTo(0);
    expect(c.now().toISOString()).toBe('2026-01-01T00:00:01.500Z');
    expect(() => c.advance(-1)).toThrow(RangeError);
  });
});
