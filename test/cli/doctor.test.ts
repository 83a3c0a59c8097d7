import { CloudFormationClient, DescribeStackResourcesCommand, DetectStackResourceDriftCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { awsDoctorSource } from '../../cli/doctor-aws';
import type { DoctorRequest } from '../../cli/doctor';
import type { Targets } from '../../cli/program';
import type { DoctorReport } from '../../tasks/lib/doctor';
import { awsTargets, cli, fakeIo } from './helpers';

const passing: DoctorReport = {
  ok: true,
  checks: [
    { name: 'TCP 10.0.0.10:636', ok: true, detail: 'connected to 10.0.0.10 on 636', fix: '' },
    { name: 'bind 10.0.0.10', ok: true, detail: 'bound as svc-adjoin@corp.example.com', fix: '' },
  ],
};
const failing: DoctorReport = {
  ok: false,
  checks: [
    { name: 'TCP 10.0.0.10:636', ok: false, detail: 'cannot reach 10.0.0.10:636: no answer in time (packets dropped)', fix: 'Allow TCP 636 from sg-0123456789abcdef0 to 10.0.0.10.' },
    { name: 'bind 10.0.0.10', ok: true, detail: 'bound as svc-adjoin@corp.example.com', fix: '' },
  ],
};

function withSource(report: DoctorReport, seen: { request?: DoctorRequest; local?: boolean } = {}): Targets {
  return {
    ...awsTargets(),
    doctor: (globals) => (request) => {
      seen.request = request;
      seen.local = globals.local === true;
      return Promise.resolve(report);
    },
  };
}

describe('adjoin doctor: output and exit codes', () => {
  it('all pass: one ✓ line per check, aligned, a summary, exit 0', async () => {
    const { code, io } = await cli(['doctor'], withSource(passing));
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      ['✓ TCP 10.0.0.10:636  connected to 10.0.0.10 on 636', '✓ bind 10.0.0.10     bound as svc-adjoin@corp.example.com', '', 'All 2 checks passed.'].join('\n'),
    ]);
  });

  it('a failure: ✗ line with its fix under it, exit 1', async () => {
    const { code, io } = await cli(['doctor'], withSource(failing));
    expect(code).toBe(1);
    expect(io.outText).toBe(
      [
        '✗ TCP 10.0.0.10:636  cannot reach 10.0.0.10:636: no answer in time (packets dropped)',
        '  fix: Allow TCP 636 from sg-0123456789abcdef0 to 10.0.0.10.',
        '✓ bind 10.0.0.10     bound as svc-adjoin@corp.example.com',
        '',
        '1 of 2 checks failed.',
      ].join('\n'),
    );
  });

  it('--json prints the report as is; the exit code still says pass or fail', async () => {
    const ok = await cli(['doctor', '--json'], withSource(passing));
    expect(JSON.parse(ok.io.outText)).toEqual(passing);
    expect(ok.code).toBe(0);
    const bad = await cli(['--json', 'doctor'], withSource(failing));
    expect(JSON.parse(bad.io.outText)).toEqual(failing);
    expect(bad.code).toBe(1);
  });

  it('colour only on a terminal (and never with NO_COLOR)', async () => {
    const tty = await cli(['doctor'], withSource(failing), fakeIo({ tty: true }));
    expect(tty.io.outText).toContain('\u001b[31m✗\u001b[39m');
    expect(tty.io.outText).toContain('\u001b[33mfix:\u001b[39m');
    const noColour = await cli(['doctor'], withSource(failing), fakeIo({ tty: true, env: { NO_COLOR: '1' } }));
    expect(noColour.io.outText).not.toContain('\u001b[');
    const pipe = await cli(['doctor'], withSource(failing));
    expect(pipe.io.outText).not.toContain('\u001b[');
  });

  it('passes --local, --instance, --target and the function name to the source', async () => {
    const seen: { request?: DoctorRequest; local?: boolean } = {};
    await cli(['--local', 'doctor', '--instance', 'i-0123456789abcdef0', '--target', '222222222222:eu-west-1', '--prefix', 'corp'], withSource(passing, seen));
    expect(seen.local).toBe(true);
    expect(seen.request).toEqual({
      local: true,
      prefix: 'corp',
      functionName: 'corp-check-setup',
      instance: { instanceId: 'i-0123456789abcdef0' },
      targets: [{ account: '222222222222', region: 'eu-west-1' }],
    });
  });

  it('usage errors exit 2', async () => {
    expect((await cli(['doctor', '--instance', 'i-xyz'], withSource(passing))).code).toBe(2);
    expect((await cli(['doctor', '--target', '22:eu-west-1'], withSource(passing))).code).toBe(2);
    expect((await cli(['doctor', '--account', '123456789012'], withSource(passing))).code).toBe(2);
  });
});

describe('adjoin doctor against AWS: invokes <prefix>-check-setup', () => {
  const common = { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 };
  const lambda = mockClient(LambdaClient);
  const sts = mockClient(STSClient);
  const sfn = mockClient(SFNClient);
  const cfn = mockClient(CloudFormationClient);
  const clients = () => ({ lambda: new LambdaClient(common), sts: new STSClient(common), sfn: new SFNClient(common), cloudFormation: new CloudFormationClient(common) });
  const targets = (): Targets => ({ ...awsTargets(), doctor: () => awsDoctorSource(clients()) });

  beforeEach(() => {
    lambda.reset();
    sts.reset();
    sfn.reset();
    cfn.reset();
    // The deployment's own checks (cli/doctor-deployment.ts): a healthy join-cleanup machine and rule.
    sfn.on(DescribeStateMachineCommand).resolves({ status: 'ACTIVE' } as never);
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [{ StackName: 'adjoin', LogicalResourceId: 'JoinEndedBadly1234', ResourceType: 'AWS::Events::Rule', ResourceStatus: 'CREATE_COMPLETE', Timestamp: new Date() }] });
    cfn.on(DetectStackResourceDriftCommand).resolves({ StackResourceDrift: { StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/adjoin/1', LogicalResourceId: 'JoinEndedBadly1234', ResourceType: 'AWS::Events::Rule', StackResourceDriftStatus: 'IN_SYNC', Timestamp: new Date() } });
  });

  it('reads the function\u2019s security groups, sends them with the instance (caller account, client Region), prints the report', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({ FunctionName: 'adjoin-check-setup', VpcConfig: { SecurityGroupIds: ['sg-0123456789abcdef0'] } });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(failing)) as never });
    sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' });
    const { code, io } = await cli(['doctor', '--instance', 'i-0123456789abcdef0', '--json'], targets());
    expect(code).toBe(1);
    expect(JSON.parse(io.outText)).toEqual({
      ok: false,
      checks: [
        ...failing.checks,
        { name: 'join-cleanup state machine', ok: true, detail: 'adjoin-join-cleanup exists (ACTIVE)', fix: '' },
        { name: 'join-cleanup rule', ok: true, detail: 'adjoin-join-ended-badly in stack adjoin (CREATE_COMPLETE), IN_SYNC', fix: '' },
      ],
    });
    const invoke = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invoke?.FunctionName).toBe('adjoin-check-setup');
    expect(JSON.parse(Buffer.from(invoke?.Payload as Uint8Array).toString('utf8'))).toEqual({
      securityGroupIds: ['sg-0123456789abcdef0'],
      instance: { instanceId: 'i-0123456789abcdef0', account: '123456789012', region: 'eu-west-1' },
    });
  });

  it('no such function → exit 3 with what to do', async () => {
    lambda.on(GetFunctionConfigurationCommand).rejects(Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' }));
    const { code, io } = await cli(['doctor', '--function', 'other-check-setup'], targets());
    expect(code).toBe(3);
    expect(io.errText).toContain('No check-setup function other-check-setup.');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('the function failed → exit 1 with its error', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({ FunctionName: 'adjoin-check-setup' });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorType: 'ConfigurationError', errorMessage: 'Invalid configuration: x' })) as never });
    const { code, io } = await cli(['doctor'], targets());
    expect(code).toBe(1);
    expect(io.errText).toContain('adjoin-check-setup failed: ConfigurationError: Invalid configuration: x');
  });

  it('access denied → exit 4', async () => {
    lambda.on(GetFunctionConfigurationCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    expect((await cli(['doctor'], targets())).code).toBe(4);
  });
});

