/** Test helpers for the CLI: a captured terminal, SDK clients that never leave the process, fixtures. */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AwsBackend, type AwsClients } from '../../cli/aws-backend';
import type { Backend } from '../../cli/backend';
import { run, type Io, type Targets } from '../../cli/program';

export const NOW = new Date('2026-11-21T12:00:00Z');

export interface FakeIo extends Io {
  stdout: string[];
  stderr: string[];
  readonly outText: string;
  readonly errText: string;
  confirms: string[];
}

export function fakeIo(opts: { tty?: boolean; stdinTty?: boolean; answer?: boolean; env?: NodeJS.ProcessEnv } = {}): FakeIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const confirms: string[] = [];
  let clock = NOW.getTime();
  return {
    stdout,
    stderr,
    confirms,
    get outText() {
      return stdout.join('\n');
    },
    get errText() {
      return stderr.join('\n');
    },
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    isTTY: opts.tty ?? false,
    stdinIsTTY: opts.stdinTty ?? false,
    env: opts.env ?? {},
    now: () => new Date(clock),
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
    confirm: (q) => {
      confirms.push(q);
      return Promise.resolve(opts.answer ?? false);
    },
  };
}

/** Real SDK clients with static credentials and a fixed Region: no credential chain, no network (sends are mocked). */
export function testClients(): AwsClients {
  const common = { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 };
  return { sfn: new SFNClient(common), cloudFormation: new CloudFormationClient(common), ec2: new EC2Client(common) };
}

export function awsTargets(clients: AwsClients = testClients(), lab?: () => Promise<Backend>): Targets {
  return {
    aws: (options) => new AwsBackend({ ...options, clients, now: () => NOW }),
    lab: async () => {
      if (!lab) throw new Error('no lab in this test');
      return lab();
    },
    labControl: () => Promise.reject(new Error('no lab in this test')),
  };
}

export async function cli(argv: string[], targets: Targets, io: FakeIo = fakeIo()): Promise<{ code: number; io: FakeIo }> {
  const code = await run(argv, io, targets);
  return { code, io };
}

/** A recorded GetExecutionHistory event list (timestamps revived as Dates, as the SDK returns them). */
export function loadHistory(file: string): HistoryEvent[] {
  const raw = JSON.parse(readFileSync(join(__dirname, 'fixtures', file), 'utf8')) as { events: (Omit<HistoryEvent, 'timestamp'> & { timestamp: string })[] };
  return raw.events.map((e): HistoryEvent => ({ ...e, timestamp: new Date(e.timestamp) }));
}

export const ACCOUNT = '123456789012';
export const SM = (name: string): string => `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:${name}`;
export const EXEC = (sm: string, name: string): string => `arn:aws:states:eu-west-1:${ACCOUNT}:execution:${sm}:${name}`;
export const STACK_OUTPUTS = [
  { OutputKey: 'JoinStateMachineArn', OutputValue: SM('adjoin-join') },
  { OutputKey: 'LeaveStateMachineArn', OutputValue: SM('adjoin-leave') },
  { OutputKey: 'ReconcileStateMachineArn', OutputValue: SM('adjoin-reconcile') },
];
