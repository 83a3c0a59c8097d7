import { StateMachine } from 'aws-local-stepfunctions';
import { synthesizeDefinitions } from '../../infra/asl';
import { Errors, LambdaServiceErrors, LambdaThrottleErrors, LambdaTimeout, TransientErrors } from '../../tasks/lib/errors';
import { TaskIds } from '../../tasks/registry';
import { InLambdaWait } from '../../tasks/lib/poll';
import { SendLineAllowanceSeconds } from '../../workflows/join';

type State = {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Parameters?: Record<string, unknown>;
  ResultPath?: string;
  Seconds?: number;
  Retry?: { ErrorEquals: string[]; IntervalSeconds: number; BackoffRate: number; MaxAttempts: number; MaxDelaySeconds?: number; JitterStrategy?: string }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath: string }[];
};
type Machine = { StartAt: string; TimeoutSeconds: number; States: Record<string, State> };

const defs = synthesizeDefinitions();
const join = defs.join as unknown as Machine;
const state = (name: string): State => {
  const s = join.States[name];
  if (!s) throw new Error(`no state "${name}"`);
  return s;
};

/** The join machine's states, as README.md "How a join proceeds" draws them (settleSeconds 0: no "Settle"). */
const JoinStates = [
  'Read instance', 'Opted in?', 'Skipped', 'Already joined', 'Another execution is joining', 'Wait for the other join', 'Done',
  'Wait for SSM Online', 'Prepare computer object', 'Linux or Windows?', 'Run join document', 'Run Windows join document', 'Record result',
  'Remove what the join made', 'Join abandoned',
];

/** Which task each Task state runs. */
const TaskOfState: Record<string, string> = {
  'Read instance': 'read-instance',
  'Wait for SSM Online': 'check-ssm-agent',
  'Prepare computer object': 'prepare-computer-object',
  'Run join document': 'run-join-document',
  'Run Windows join document': 'run-windows-join-document',
  'Record result': 'record-result',
  'Remove what the join made': 'remove-join-artifacts',
};

describe('synthesizeDefinitions: the join ASL', () => {
  it('has exactly the join states of the README diagram and starts at "Read instance"', () => {
    expect(Object.keys(join.States).sort()).toEqual([...JoinStates].sort());
    expect(join.StartAt).toBe('Read instance');
  });

  it('every Task runs its Lambda by ARN (payloadResponseOnly), nothing left unresolved', () => {
    const tasks = Object.entries(join.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([n]) => n).sort()).toEqual(Object.keys(TaskOfState).sort());
    for (const [name, s] of tasks) {
      expect(s.Resource).toBe(`arn:aws:lambda:eu-west-1:111111111111:function:adjoin-${TaskOfState[name]}`);
      expect(defs.taskByArn[s.Resource ?? '']).toBe(TaskOfState[name]);
    }
    expect(JSON.stringify(join)).not.toMatch(/Fn::|Ref"|\$\{Token/);
  });

  it('every Task retries Lambda service errors (2 s, x2, 3), throttling (2 s, x2, 30 s, 12, FULL jitter) and TransientErrors (5 s, x2, 60 s, 6, FULL jitter)', () => {
    for (const name of Object.keys(TaskOfState)) {
      const retry = state(name).Retry ?? [];
      expect(retry).toEqual(expect.arrayContaining([
        { ErrorEquals: LambdaServiceErrors, IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 },
        { ErrorEquals: LambdaThrottleErrors, IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 12, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
        { ErrorEquals: TransientErrors, IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 6, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
      ]));
    }
  });

  // An invocation of a polling task polls at least maxSeconds − 1.5 × its poll interval (tasks/lib/poll.ts).
  const invocationsFor = (deadline: number, pollInterval: number): number => Math.ceil(deadline / (InLambdaWait.maxSeconds - 1.5 * pollInterval));

  it('"Wait for SSM Online" retries SsmAgentNotOnline (each invocation polls ~60 s) past the SSM-online deadline; "Run join document" retries JoinStillRunning; 0–2 s between invocations; nothing else is retried', () => {
    expect(state('Wait for SSM Online').Retry?.[0]).toEqual({
      ErrorEquals: [Errors.SsmAgentNotOnline], IntervalSeconds: 2, BackoffRate: 1, MaxDelaySeconds: 2, MaxAttempts: invocationsFor(600, InLambdaWait.ssmIntervalSeconds), JitterStrategy: 'FULL',
    });
    expect(invocationsFor(600, InLambdaWait.ssmIntervalSeconds)).toBe(12);
    expect(state('Run join document').Retry?.[0]).toEqual({
      ErrorEquals: [Errors.JoinStillRunning], IntervalSeconds: 2, BackoffRate: 1, MaxDelaySeconds: 2, MaxAttempts: invocationsFor(600 + SendLineAllowanceSeconds, InLambdaWait.commandIntervalSeconds) + 1, JitterStrategy: 'FULL',
    });
    const retried = new Set(Object.values(join.States).flatMap((s) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals)));
    expect([...retried].sort()).toEqual([...LambdaServiceErrors, ...LambdaThrottleErrors, ...TransientErrors, LambdaTimeout, Errors.SsmAgentNotOnline, Errors.JoinStillRunning].sort());
  });

  it('every join task waits out throttling of a 1,000-launch burst (2 s, x2, 30 s, 12 attempts, full jitter) before the standard retries', () => {
    const burst = { ErrorEquals: [Errors.Throttled, Errors.AwsUnavailable, Errors.AwsUnreachable, LambdaTimeout], IntervalSeconds: 2, BackoffRate: 2, MaxDelaySeconds: 30, MaxAttempts: 12, JitterStrategy: 'FULL' };
    for (const name of ['Read instance', 'Wait for SSM Online', 'Prepare computer object', 'Run join document', 'Record result']) {
      const retry = state(name).Retry ?? [];
      const at = retry.findIndex((r) => r.ErrorEquals.join() === burst.ErrorEquals.join());
      expect(retry[at]).toEqual(burst);
      expect(at).toBeLessThan(retry.findIndex((r) => r.ErrorEquals.includes(Errors.DirectoryUnavailable)));
    }
  });

  it('InstanceGone is caught into the compensation after "Read instance", never on it', () => {
    expect(state('Read instance').Catch).toBeUndefined();
    for (const name of ['Wait for SSM Online', 'Prepare computer object', 'Run join document', 'Record result']) {
      expect(state(name).Catch).toEqual([{ ErrorEquals: [Errors.InstanceGone], ResultPath: '$.error', Next: 'Remove what the join made' }]);
    }
    expect(state('Remove what the join made')).toMatchObject({ Parameters: { 'instance.$': '$.instance', 'error.$': '$.error' }, Next: 'Join abandoned' });
  });

  it('payloads and result paths are the ones the tasks expect (tasks/lib/contracts.ts)', () => {
    expect(state('Read instance')).toMatchObject({ Parameters: { 'event.$': '$', 'executionName.$': '$$.Execution.Name' }, ResultPath: '$.instance' });
    expect(state('Opted in?')).toMatchObject({ Type: 'Choice', Choices: expect.arrayContaining([{ Variable: '$.instance.outcome', StringEquals: 'proceed', Next: 'Wait for SSM Online' }]) as unknown });
    expect(state('Run join document')).toMatchObject({
      Parameters: {
        'instance.$': '$.instance',
        'computer.$': '$.computer',
        'redriveCount.$': '$$.Execution.RedriveCount',
        'executionName.$': '$$.Execution.Name',
      },
      ResultPath: '$.join',
      Next: 'Record result',
    });
    // Its result IS the execution's output: no ResultPath, straight to "Done".
    expect(state('Record result')).toMatchObject({
      Parameters: { 'instance.$': '$.instance', 'computer.$': '$.computer', 'join.$': '$.join', 'executionName.$': '$$.Execution.Name' },
      Next: 'Done',
    });
    expect(state('Record result').ResultPath).toBeUndefined();
  });

  it('execution timeout = settle + 2 x SSM-online deadline + 2 x command deadline + 1800 s', () => {
    expect(join.TimeoutSeconds).toBe(2 * 600 + 2 * 600 + 1800);
  });

  it('follows the configured timings; a settle pause only when settleSeconds > 0', () => {
    const other = synthesizeDefinitions({ timings: { settleSeconds: 30, ssmOnlineDeadlineSeconds: 1200, commandDeadlineSeconds: 300 } }).join as unknown as Machine;
    expect(other.States.Settle).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'Wait for SSM Online' });
    expect(join.States.Settle).toBeUndefined();
    expect(other.States['Wait for SSM Online']?.Retry?.[0]?.MaxAttempts).toBe(invocationsFor(1200, InLambdaWait.ssmIntervalSeconds));
    // SendCommand paced (the default): the retries also cover the wait in the account's SendCommand line.
    expect(other.States['Run join document']?.Retry?.[0]?.MaxAttempts).toBe(invocationsFor(300 + SendLineAllowanceSeconds, InLambdaWait.commandIntervalSeconds) + 1);
    const unpaced = synthesizeDefinitions({ timings: { commandDeadlineSeconds: 300 }, pacing: { sendCommand: 0 } }).join as unknown as Machine;
    expect(unpaced.States['Run join document']?.Retry?.[0]?.MaxAttempts).toBe(invocationsFor(300, InLambdaWait.commandIntervalSeconds) + 1);
    expect(other.TimeoutSeconds).toBe(30 + 2 * 1200 + 2 * 300 + 1800);
  });

  it('also yields leave and reconcile, the function names and the Settings', () => {
    expect(defs.leave).toBeDefined();
    expect(defs.reconcile).toBeDefined();
    expect(Object.keys(defs.functionNames).sort()).toEqual([...TaskIds].sort());
    expect(defs.functionNames['read-instance']).toBe('adjoin-read-instance');
    expect(defs.settings.timings.settleSeconds).toBe(0);
  });

  it('account and Region of the ARNs can be chosen (the lab uses its own)', () => {
    const lab = synthesizeDefinitions({}, { account: '000000000000', region: 'lab-local-1' });
    expect((lab.join as unknown as Machine).States['Read instance']?.Resource).toBe('arn:aws:lambda:lab-local-1:000000000000:function:adjoin-read-instance');
    expect(lab.functionArns['clean-up-failed-join']).toBe('arn:aws:lambda:lab-local-1:000000000000:function:adjoin-clean-up-failed-join');
    expect([lab.account, lab.region]).toEqual(['000000000000', 'lab-local-1']);
  });

  it('snapshot of the join machine', () => {
    expect(join).toMatchSnapshot();
  });

  it('is cached but hands out copies', () => {
    const a = synthesizeDefinitions();
    (a.join as { StartAt: string }).StartAt = 'changed';
    expect(synthesizeDefinitions().join.StartAt).toBe('Read instance');
  });
});

describe('the join ASL runs in aws-local-stepfunctions', () => {
  const event = {
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '111111111111',
    region: 'eu-west-1',
    detail: { 'instance-id': 'i-0123456789abcdef0', state: 'running' },
  };
  const instance = { instanceId: 'i-0123456789abcdef0', account: '111111111111', region: 'eu-west-1', outcome: 'proceed', reason: 'opted in', platform: 'linux', loginGroups: [] };
  const computer = { name: 'EC2-0123456789A', dn: 'CN=EC2-0123456789A,OU=Computers', fqdn: 'x', action: 'created', secretName: '/adjoin/otp/i-0123456789abcdef0' };
  const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });

  const run = async (handlers: Record<string, (input: unknown) => unknown>) => {
    const machine = new StateMachine(structuredClone(defs.join) as never, { validationOptions: { checkArn: true, checkPaths: true } });
    const waits = Object.fromEntries(Object.entries(join.States).filter(([, s]) => s.Type === 'Wait').map(([n]) => [n, 0]));
    const retries = Object.fromEntries(Object.entries(join.States).filter(([, s]) => s.Retry).map(([n]) => [n, 0]));
    const execution = machine.run(event, {
      overrides: {
        taskResourceLocalHandlers: handlers as Record<string, (input: unknown) => never>,
        waitTimeOverrides: waits,
        retryIntervalOverrides: retries,
      },
      context: { Execution: { Name: 'exec-1', RedriveCount: 0 } },
    });
    return execution.result;
  };

  it('happy path: "Run join document" sends, is polled through its JoinStillRunning retry, and "Record result" is the output', async () => {
    let joinCalls = 0;
    let ssmChecks = 0;
    const seen: Record<string, unknown> = {};
    const output = await run({
      'Read instance': (input) => { seen.read = input; return instance; },
      'Wait for SSM Online': () => { ssmChecks += 1; if (ssmChecks < 3) throw named('SsmAgentNotOnline', 'not yet'); return { pingStatus: 'Online' }; },
      'Prepare computer object': () => computer,
      'Run join document': (input) => {
        seen.run = input;
        joinCalls += 1;
        if (joinCalls < 3) throw named('JoinStillRunning', joinCalls === 1 ? 'sent' : 'InProgress');
        return { commandId: 'c-1', status: 'Success', redriveCount: 0, output: '' };
      },
      'Record result': (input) => {
        seen.record = input;
        return { outcome: 'joined', instanceId: instance.instanceId, computerName: computer.name, commandId: 'c-1', tags: {} };
      },
    });
    expect(output).toEqual({ outcome: 'joined', instanceId: instance.instanceId, computerName: computer.name, commandId: 'c-1', tags: {} });
    expect(seen.read).toEqual({ event, executionName: 'exec-1' });
    expect(seen.run).toEqual({ instance, computer, redriveCount: 0, executionName: 'exec-1' });
    expect(seen.record).toEqual({ instance, computer, join: { commandId: 'c-1', status: 'Success', redriveCount: 0, output: '' }, executionName: 'exec-1' });
    expect(ssmChecks).toBe(3);
    expect(joinCalls).toBe(3);
  });

  it('an instance that is gone is compensated and the execution succeeds "abandoned"', async () => {
    const output = await run({
      'Read instance': () => instance,
      'Wait for SSM Online': () => { throw named('InstanceGone', 'terminated'); },
      'Remove what the join made': (input) => {
        expect(input).toMatchObject({ instance, error: { Error: 'InstanceGone' } });
        return { outcome: 'abandoned', reason: 'instance terminated', deleted: [] };
      },
    });
    expect(output).toEqual({ outcome: 'abandoned', instanceId: instance.instanceId, reason: 'instance terminated' });
  });

  it('not opted in: ends "skipped" without touching anything else', async () => {
    const output = await run({ 'Read instance': () => ({ ...instance, outcome: 'skipped', reason: 'no opt-in tag' }) });
    expect(output).toEqual({ outcome: 'skipped', reason: 'no opt-in tag', instanceId: instance.instanceId });
  });

  it('a failed join command fails the execution at "Run join document" (redrivable there)', async () => {
    await expect(run({
      'Read instance': () => instance,
      'Wait for SSM Online': () => ({ pingStatus: 'Online' }),
      'Prepare computer object': () => computer,
      'Run join document': () => { throw named('JoinCommandFailed', 'adcli: exit 3'); },
    })).rejects.toThrow(/JoinCommandFailed|adcli: exit 3/);
  });
});
