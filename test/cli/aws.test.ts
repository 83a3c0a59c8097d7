/**
 * The CLI against AWS, with every SDK call mocked (aws-sdk-client-mock): pagination, bounds,
 * redrive refusals, the start input, exit codes. Nothing leaves the process.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ACCOUNT, EXEC, NOW, SM, STACK_OUTPUTS, awsTargets, cli, fakeIo, loadHistory } from './helpers';

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
const ec2 = mockClient(EC2Client);

const IID = 'i-0123456789abcdef0';
const ago = (ms: number): Date => new Date(NOW.getTime() - ms);
const H = 3600_000;

const sdkError = (name: string, message: string): Error => Object.assign(new Error(message), { name, $metadata: {} });

beforeEach(() => {
  sfn.reset();
  cfn.reset();
  ec2.reset();
  cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Adjoin', CreationTime: ago(H), StackStatus: 'CREATE_COMPLETE', Outputs: STACK_OUTPUTS }] });
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
});

const history = loadHistory('join-redriven.history.json');
const failedIdx = history.findIndex((e) => e.type === 'ExecutionFailed');
const failedHistory = history.slice(0, failedIdx + 1);
const input = JSON.parse(history[0]?.executionStartedEventDetails?.input ?? '{}') as unknown;

describe('adjoin executions', () => {
  it('reads ListExecutions page by page and stops at --since', async () => {
    // Prepare: two pages for join, the second reaching past --since.
    const joinArn = SM('adjoin-join');
    const cliName = `join-${IID}-20261121T110000Z-ab12`;
    sfn
      .on(ListExecutionsCommand, { stateMachineArn: joinArn })
      .resolvesOnce({
        executions: [
          { executionArn: EXEC('adjoin-join', cliName), stateMachineArn: joinArn, name: cliName, status: 'SUCCEEDED', startDate: ago(H), stopDate: ago(H - 95_000) },
          { executionArn: EXEC('adjoin-join', 'uuid-1'), stateMachineArn: joinArn, name: 'uuid-1', status: 'FAILED', startDate: ago(2 * H), stopDate: ago(2 * H - 60_000) },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({
        executions: [
          { executionArn: EXEC('adjoin-join', 'uuid-2'), stateMachineArn: joinArn, name: 'uuid-2', status: 'SUCCEEDED', startDate: ago(3 * H), stopDate: ago(3 * H - 60_000) },
          { executionArn: EXEC('adjoin-join', 'old'), stateMachineArn: joinArn, name: 'old', status: 'SUCCEEDED', startDate: ago(48 * H), stopDate: ago(47 * H) },
        ],
        nextToken: 'page-3',
      });
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: 'x', stateMachineArn: joinArn, status: 'FAILED', startDate: ago(H), input: JSON.stringify(input) });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [...failedHistory].reverse() });

    // Act
    const { code, io } = await cli(['executions', '--workflow', 'join', '--since', '24h'], awsTargets());

    // Assess
    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(ListExecutionsCommand, 2);
    expect(sfn).toHaveReceivedNthSpecificCommandWith(2, ListExecutionsCommand, { stateMachineArn: joinArn, nextToken: 'page-2' });
    // Instance from our name for the CLI-started run; DescribeExecution (its input) for the two others.
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 2);
    // The failed one's failing state, from the tail of its history (reverse order, no data).
    expect(sfn).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: EXEC('adjoin-join', 'uuid-1'), reverseOrder: true, includeExecutionData: false });
    const lines = io.outText.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+WORKFLOW\s+INSTANCE\s+STATUS\s+STARTED\s+DURATION\s+FAILED STATE$/);
    expect(lines).toHaveLength(4);
    expect(io.outText).not.toContain('old');
    expect(lines[1]).toMatch(new RegExp(`^${cliName}\\s+join\\s+${IID}\\s+SUCCEEDED\\s+2026-11-21 11:00:00Z \\(1h ago\\)\\s+1m 35s$`));
    expect(lines[2]).toMatch(/^uuid-1\s+join\s+i-0123456789abcdef0\s+FAILED\s+.*Wait for SSM Online SsmAgentNotOnline$/);
  });

  it('asks each page for no more than --limit still needs, across all three workflows', async () => {
    const items = (sm: string, n: number, offsetH: number) =>
      Array.from({ length: n }, (_, i) => ({ executionArn: EXEC(sm, `${sm}-${i}`), stateMachineArn: SM(sm), name: `${sm}-${i}`, status: 'SUCCEEDED' as const, startDate: ago((offsetH + i) * H), stopDate: ago((offsetH + i) * H - 1000) }));
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('adjoin-join') }).resolves({ executions: items('adjoin-join', 3, 1), nextToken: 'more' });
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('adjoin-leave') }).resolves({ executions: items('adjoin-leave', 3, 0.5), nextToken: 'more' });
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('adjoin-reconcile') }).resolves({ executions: items('adjoin-reconcile', 3, 0.2) });
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: 'x', stateMachineArn: 'y', status: 'SUCCEEDED', startDate: NOW, input: JSON.stringify(input) });

    const { code, io } = await cli(['executions', '--limit', '3', '--json'], awsTargets());

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(ListExecutionsCommand, 3); // one page each: 3 items satisfy --limit 3
    expect(sfn).toHaveReceivedCommandWith(ListExecutionsCommand, { maxResults: 3 });
    const out = JSON.parse(io.outText) as { name: string; workflow: string; startDate: string }[];
    expect(out.map((e) => e.name)).toEqual(['adjoin-reconcile-0', 'adjoin-leave-0', 'adjoin-join-0']);
    expect(out[0]?.startDate).toMatch(/^2026-11-21T11:48:00/);
  });

  it('filters by instance using the execution input when the name does not carry it', async () => {
    const joinArn = SM('adjoin-join');
    sfn.on(ListExecutionsCommand, { stateMachineArn: joinArn }).resolves({
      executions: [
        { executionArn: EXEC('adjoin-join', 'a'), stateMachineArn: joinArn, name: 'a', status: 'SUCCEEDED', startDate: ago(H) },
        { executionArn: EXEC('adjoin-join', 'b'), stateMachineArn: joinArn, name: 'b', status: 'SUCCEEDED', startDate: ago(2 * H) },
      ],
    });
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC('adjoin-join', 'a') }).resolves({ executionArn: 'a', stateMachineArn: joinArn, status: 'SUCCEEDED', startDate: NOW, input: JSON.stringify(input) });
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC('adjoin-join', 'b') }).resolves({ executionArn: 'b', stateMachineArn: joinArn, status: 'SUCCEEDED', startDate: NOW, input: '{"detail":{"instance-id":"i-0fffffffffffffff0","state":"running"}}' });

    const { code, io } = await cli(['executions', '--workflow', 'join', '--instance', IID, '--json'], awsTargets());

    expect(code).toBe(0);
    expect((JSON.parse(io.outText) as { name: string }[]).map((e) => e.name)).toEqual(['a']);
  });
  it('with --instance, reads inputs newest first and stops once --limit matches are found', async () => {
    const joinArn = SM('adjoin-join');
    const many = Array.from({ length: 100 }, (_, i) => ({ executionArn: EXEC('adjoin-join', `u${i}`), stateMachineArn: joinArn, name: `u${i}`, status: 'SUCCEEDED' as const, startDate: ago((i + 1) * 60_000) }));
    sfn.on(ListExecutionsCommand, { stateMachineArn: joinArn }).resolves({ executions: many });
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: 'x', stateMachineArn: joinArn, status: 'SUCCEEDED', startDate: NOW, input: JSON.stringify(input) });

    const { code, io } = await cli(['executions', '--workflow', 'join', '--instance', IID, '--limit', '2', '--json'], awsTargets());

    expect(code).toBe(0);
    expect((JSON.parse(io.outText) as { name: string }[]).map((e) => e.name)).toEqual(['u0', 'u1']);
    expect(sfn.commandCalls(DescribeExecutionCommand).length).toBeLessThanOrEqual(32);
  });
});

describe('adjoin show', () => {
  const name = `join-${IID}-20261121T090000Z-ab12`;
  const arn = EXEC('adjoin-join', name);

  it('reads the whole history across pages and prints the timeline', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: arn }).resolves({ executionArn: arn, stateMachineArn: SM('adjoin-join'), name, status: 'SUCCEEDED', startDate: ago(3 * H), stopDate: ago(H), input: JSON.stringify(input), redriveCount: 1, redriveDate: ago(2 * H) });
    const half = Math.floor(history.length / 2);
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: arn })
      .resolvesOnce({ events: history.slice(0, half), nextToken: 'next' })
      .resolvesOnce({ events: history.slice(half) });

    const { code, io } = await cli(['show', name], awsTargets());

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 2);
    expect(sfn).toHaveReceivedNthSpecificCommandWith(2, GetExecutionHistoryCommand, { executionArn: arn, nextToken: 'next', includeExecutionData: true });
    expect(io.outText).toContain(`${name}  SUCCEEDED`);
    expect(io.outText).toMatch(/✗\s+Wait for SSM Online/);
    expect(io.outText).toMatch(/── redrive 1 at/);
    expect(io.outText).toContain('computer      EC2-0123ABCDEF0 (created)');
    // Looked up by name in the join machine first: found there, so no other machine was asked.
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 1);
  });

  it('prints JSON with the execution and its timeline', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: arn, stateMachineArn: SM('adjoin-join'), name, status: 'FAILED', startDate: ago(3 * H), stopDate: ago(H), error: 'SsmAgentNotOnline', input: JSON.stringify(input) });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: failedHistory });

    const { code, io } = await cli(['show', arn, '--json'], awsTargets());

    expect(code).toBe(0);
    const out = JSON.parse(io.outText) as { execution: { workflow: string; instanceId: string; failedState: string }; timeline: { failedState: string; steps: unknown[] } };
    expect(out.execution).toMatchObject({ workflow: 'join', instanceId: IID, failedState: 'Wait for SSM Online' });
    expect(out.timeline.steps).toHaveLength(5);
  });

  it('exits 3 when no state machine has an execution of that name', async () => {
    sfn.on(DescribeExecutionCommand).rejects(sdkError('ExecutionDoesNotExist', 'Execution Does Not Exist'));

    const { code, io } = await cli(['show', 'nope'], awsTargets());

    expect(code).toBe(3);
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 3);
    expect(io.errText).toMatch(/^adjoin: No execution named "nope" in the join, leave or reconcile state machine\./);
  });
});

describe('adjoin redrive', () => {
  const name = `join-${IID}-20261121T090000Z-ab12`;
  const arn = EXEC('adjoin-join', name);
  const described = (over: Record<string, unknown>) =>
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: arn, stateMachineArn: SM('adjoin-join'), name, status: 'FAILED', startDate: ago(2 * H), stopDate: ago(H), input: JSON.stringify(input), redriveStatus: 'REDRIVABLE', ...over });

  it('redrives a failed execution', async () => {
    described({});
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });

    const { code, io } = await cli(['redrive', name], awsTargets());

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: arn });
    expect(io.outText).toContain(`Redriven ${name} at 2026-11-21 12:00:00Z`);
  });

  it.each([
    [{ status: 'SUCCEEDED' }, /it succeeded: there is nothing to redrive/],
    [{ status: 'RUNNING', stopDate: undefined }, /it is still running/],
    [{ stopDate: ago(15 * 24 * H) }, /redrives only within 14 days of the stop/],
    [{ redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven' }, /not redrivable: Execution is SUCCEEDED/],
  ])('refuses and explains why (%j)', async (over, why) => {
    described(over);

    const { code, io } = await cli(['redrive', name], awsTargets());

    expect(code).toBe(1);
    expect(io.errText).toMatch(why);
    expect(io.errText.split('\n')[0]).toMatch(new RegExp(`^adjoin: Cannot redrive ${name}`));
    expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
  });

  it('reports Step Functions\u2019 own ExecutionNotRedrivable', async () => {
    described({});
    sfn.on(RedriveExecutionCommand).rejects(sdkError('ExecutionNotRedrivable', 'Execution has exceeded the max redrive count'));

    const { code, io } = await cli(['redrive', name], awsTargets());

    expect(code).toBe(1);
    expect(io.errText).toBe(`adjoin: Step Functions refused to redrive ${name}: Execution has exceeded the max redrive count`);
  });

  describe('--failed', () => {
    beforeEach(() => {
      sfn.on(ListExecutionsCommand, { stateMachineArn: SM('adjoin-join'), statusFilter: 'FAILED' }).resolves({
        executions: [
          { executionArn: EXEC('adjoin-join', 'f1'), stateMachineArn: SM('adjoin-join'), name: 'f1', status: 'FAILED', startDate: ago(H), stopDate: ago(H) },
          { executionArn: EXEC('adjoin-join', 'f2'), stateMachineArn: SM('adjoin-join'), name: 'f2', status: 'FAILED', startDate: ago(2 * H), stopDate: ago(2 * H) },
        ],
      });
      sfn.on(DescribeExecutionCommand, { executionArn: EXEC('adjoin-join', 'f1') }).resolves({ executionArn: EXEC('adjoin-join', 'f1'), stateMachineArn: SM('adjoin-join'), name: 'f1', status: 'FAILED', startDate: ago(H), stopDate: ago(H), redriveStatus: 'REDRIVABLE', input: JSON.stringify(input) });
      sfn.on(DescribeExecutionCommand, { executionArn: EXEC('adjoin-join', 'f2') }).resolves({ executionArn: EXEC('adjoin-join', 'f2'), stateMachineArn: SM('adjoin-join'), name: 'f2', status: 'FAILED', startDate: ago(2 * H), stopDate: ago(2 * H), redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: 'Execution has exceeded the max redrive count', input: JSON.stringify(input) });
      sfn.on(GetExecutionHistoryCommand).resolves({ events: [...failedHistory].reverse() });
      sfn.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });
    });

    it('refuses to act without a terminal unless --yes', async () => {
      const { code, io } = await cli(['redrive', '--failed', '--workflow', 'join'], awsTargets(), fakeIo({ stdinTty: false }));

      expect(code).toBe(2);
      expect(io.errText).toMatch(/not asking without a terminal/);
      expect(io.errText).toMatch(/--yes/);
      expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
    });

    it('asks on a terminal, and does nothing on "no"', async () => {
      const { code, io } = await cli(['redrive', '--failed', '--workflow', 'join'], awsTargets(), fakeIo({ stdinTty: true, answer: false }));

      expect(io.confirms).toEqual(['Redrive these 1 execution(s)? [y/N] ']);
      expect(code).toBe(1);
      expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
    });

    it('with --yes redrives the redrivable ones, skips the others with the reason, reports each', async () => {
      const { code, io } = await cli(['redrive', '--failed', '--workflow', 'join', '--since', '24h', '--yes'], awsTargets());

      expect(code).toBe(0);
      expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 1);
      expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: EXEC('adjoin-join', 'f1') });
      expect(io.outText).toContain('skip  f2: Step Functions says it is not redrivable: Execution has exceeded the max redrive count');
      expect(io.outText).toContain('[1/1] redriven  f1');
      expect(io.outText).toContain('1 redriven, 0 failed, 1 skipped.');
      // FAILED, TIMED_OUT and ABORTED are all asked for.
      expect(sfn).toHaveReceivedCommandWith(ListExecutionsCommand, { statusFilter: 'TIMED_OUT' });
      expect(sfn).toHaveReceivedCommandWith(ListExecutionsCommand, { statusFilter: 'ABORTED' });
    });

    it('exits 1 when a redrive fails, and says which', async () => {
      sfn.on(RedriveExecutionCommand).rejects(sdkError('ExecutionNotRedrivable', 'no'));

      const { code, io } = await cli(['redrive', '--failed', '--yes', '--json'], awsTargets());

      expect(code).toBe(1);
      const out = JSON.parse(io.outText) as { failed: { name: string }[]; refused: { name: string; reason: string }[] };
      expect(out.failed.map((f) => f.name)).toEqual(['f1']);
      expect(out.refused.map((f) => f.name)).toEqual(['f2']);
    });
  });
});

describe('adjoin join / leave / reconcile', () => {
  beforeEach(() => {
    sfn.on(StartExecutionCommand).callsFake((req: { stateMachineArn: string; name: string }) => ({ executionArn: `${req.stateMachineArn.replace(':stateMachine:', ':execution:')}:${req.name}`, startDate: NOW }));
  });

  it('starts join with exactly the EventBridge EC2 state-change event', async () => {
    const { code, io } = await cli(['join', IID], awsTargets());

    expect(code).toBe(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.stateMachineArn).toBe(SM('adjoin-join'));
    expect(call?.name).toMatch(new RegExp(`^join-${IID}-20261121T120000Z-[0-9a-f]{4}$`));
    const event = JSON.parse(call?.input ?? '') as Record<string, unknown>;
    expect(Object.keys(event).sort()).toEqual(['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version']);
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event).toEqual({
      version: '0',
      id: event.id,
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      account: ACCOUNT,
      time: '2026-11-21T12:00:00Z',
      region: 'eu-west-1',
      resources: [`arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/${IID}`],
      detail: { 'instance-id': IID, state: 'running' },
    });
    expect(io.outText).toMatch(new RegExp(`^Started join for ${IID}: join-${IID}-`));
  });

  it('starts leave with a "terminated" event, account and Region from flags', async () => {
    const { code } = await cli(['leave', IID, '--account', '210987654321', '--instance-region', 'us-east-2'], awsTargets());

    expect(code).toBe(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.stateMachineArn).toBe(SM('adjoin-leave'));
    expect(JSON.parse(call?.input ?? '')).toMatchObject({ account: '210987654321', region: 'us-east-2', resources: [`arn:aws:ec2:us-east-2:210987654321:instance/${IID}`], detail: { 'instance-id': IID, state: 'terminated' } });
  });

  it('starts reconcile with {dryRun: true}', async () => {
    const { code, io } = await cli(['reconcile', '--dry-run', '--json'], awsTargets());

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: SM('adjoin-reconcile'), input: '{"dryRun":true}' });
    expect(JSON.parse(io.outText)).toMatchObject({ input: { dryRun: true }, execution: { workflow: 'reconcile', status: 'RUNNING' } });
  });

  it.each([
    ['SUCCEEDED', 0],
    ['FAILED', 1],
  ])('--wait follows the execution (backing off) and exits with its outcome: %s → %d', async (final, exit) => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: 'a', stateMachineArn: SM('adjoin-join'), name: 'n', status: 'RUNNING', startDate: NOW })
      .resolvesOnce({ executionArn: 'a', stateMachineArn: SM('adjoin-join'), name: 'n', status: 'RUNNING', startDate: NOW })
      .resolves({ executionArn: 'a', stateMachineArn: SM('adjoin-join'), name: 'n', status: final as 'FAILED', startDate: NOW, stopDate: NOW });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: final === 'FAILED' ? failedHistory : history });
    const io = fakeIo();

    const { code } = await cli(['join', IID, '--wait'], awsTargets(), io);

    expect(code).toBe(exit);
    expect(io.errText).toMatch(/RUNNING…/);
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 4);
  });

  it('--wait gives up after --timeout with exit 1, saying the execution goes on', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: 'a', stateMachineArn: SM('adjoin-join'), name: 'n', status: 'RUNNING', startDate: NOW });

    const { code, io } = await cli(['join', IID, '--wait', '--timeout', '30'], awsTargets());

    expect(code).toBe(1);
    expect(io.errText).toMatch(/still RUNNING after 30s; stopped waiting \(it goes on\)/);
    // Backoff 1 s, 1.5 s, 2.25 s … within 30 s: a bounded number of polls.
    expect(sfn.commandCalls(DescribeExecutionCommand).length).toBeLessThan(12);
  });

  it('validates the instance ID before calling anything', async () => {
    const { code, io } = await cli(['join', 'i-XYZ'], awsTargets());

    expect(code).toBe(2);
    expect(io.errText).toMatch(/Not an EC2 instance ID: "i-XYZ"/);
    expect(sfn.calls()).toHaveLength(0);
    expect(cfn.calls()).toHaveLength(0);
  });
});

describe('targets and failures', () => {
  it('uses the ARN flags without asking CloudFormation', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC('mine', 'x'), startDate: NOW });

    const { code } = await cli(['--join-arn', SM('mine'), '--leave-arn', SM('l'), '--reconcile-arn', SM('r'), 'join', IID], awsTargets());

    expect(code).toBe(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: SM('mine') });
  });

  it('reads the stack named by --stack', async () => {
    await cli(['--stack', 'AdjoinProd', 'executions'], awsTargets());
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'AdjoinProd' });
  });

  it('exits 3 with what to do when the stack does not exist', async () => {
    cfn.on(DescribeStacksCommand).rejects(sdkError('ValidationError', 'Stack with id Adjoin does not exist'));

    const { code, io } = await cli(['executions'], awsTargets());

    expect(code).toBe(3);
    expect(io.stderr).toEqual(['adjoin: Stack "adjoin" not found.', '  Deploy it, pass --stack NAME, or give the state machines with --join-arn/--leave-arn/--reconcile-arn.']);
  });

  it('exits 4 with one clear line when there are no credentials (no stack trace)', async () => {
    cfn.on(DescribeStacksCommand).rejects(sdkError('CredentialsProviderError', 'Could not load credentials from any providers'));

    const { code, io } = await cli(['executions'], awsTargets());

    expect(code).toBe(4);
    expect(io.stderr[0]).toBe('adjoin: No AWS credentials found.');
    expect(io.errText).toMatch(/AWS_PROFILE|aws sso login/);
    expect(io.errText).not.toMatch(/\n\s+at /);
  });

  it('prints the stack trace with --debug', async () => {
    cfn.on(DescribeStacksCommand).rejects(sdkError('CredentialsProviderError', 'Could not load credentials from any providers'));

    const { code, io } = await cli(['executions', '--debug'], awsTargets());

    expect(code).toBe(4);
    expect(io.errText).toMatch(/\n\s+at /);
  });

  it('exits 4 on access denied', async () => {
    sfn.on(ListExecutionsCommand).rejects(sdkError('AccessDeniedException', 'User is not authorized to perform: states:ListExecutions'));

    const { code, io } = await cli(['executions'], awsTargets());

    expect(code).toBe(4);
    expect(io.errText).toMatch(/^adjoin: Access denied \(AccessDeniedException\): User is not authorized/);
  });

  it('exits 1 when AWS keeps throttling past the SDK\u2019s retries', async () => {
    sfn.on(ListExecutionsCommand).rejects(sdkError('ThrottlingException', 'Rate exceeded'));

    const { code, io } = await cli(['executions'], awsTargets());

    expect(code).toBe(1);
    expect(io.errText).toMatch(/Throttled by AWS after retries/);
  });
});

describe('adjoin status', () => {
  it('shows the instance state, our status tags and its executions', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: IID,
              State: { Name: 'running', Code: 16 },
              PrivateDnsName: 'ip-10-0-0-12.eu-west-1.compute.internal',
              LaunchTime: ago(3 * H),
              Tags: [
                { Key: 'Domain:Join', Value: 'true' },
                { Key: 'adjoin:status', Value: 'joined' },
                { Key: 'adjoin:computer-name', Value: 'EC2-0123ABCDEF0' },
              ],
            },
          ],
        },
      ],
    });
    const name = `join-${IID}-20261121T090000Z-ab12`;
    sfn.on(ListExecutionsCommand, { stateMachineArn: SM('adjoin-join') }).resolves({ executions: [{ executionArn: EXEC('adjoin-join', name), stateMachineArn: SM('adjoin-join'), name, status: 'SUCCEEDED', startDate: ago(3 * H), stopDate: ago(2 * H) }] });

    const { code, io } = await cli(['status', IID], awsTargets());

    expect(code).toBe(0);
    expect(io.outText).toContain(`${IID}  running`);
    expect(io.outText).toContain('adjoin:status = joined');
    expect(io.outText).toContain('adjoin:computer-name = EC2-0123ABCDEF0');
    expect(io.outText).toContain('other tags  Domain:Join=true');
    expect(io.outText).toMatch(new RegExp(`${name}\\s+join\\s+${IID}\\s+SUCCEEDED`));
  });

  it('exits 3 when EC2 does not know the instance', async () => {
    ec2.on(DescribeInstancesCommand).rejects(sdkError('InvalidInstanceID.NotFound', `The instance ID '${IID}' does not exist`));

    const { code, io } = await cli(['status', IID, '--json'], awsTargets());

    expect(code).toBe(3);
    expect(JSON.parse(io.outText)).toMatchObject({ instanceId: IID, found: false, executions: [] });
  });
});

// Keep the type import used (HistoryEvent is the fixture's element type).
export type Fixture = HistoryEvent[];
