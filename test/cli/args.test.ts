/** Argument validation, help, exit codes and output manners: nothing reaches a backend. */
import { SFNClient, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { Readable } from 'node:stream';
import { makeAwsClients } from '../../cli/aws-backend';
import type { Targets } from '../../cli/program';
import { ec2StateEvent, executionName, instanceFromInput, instanceFromName, validateInstanceId } from '../../cli/ec2-event';
import { classify, Exit } from '../../cli/exit';
import { colourEnabled, duration, makeStyle, parseSince, relative, table } from '../../cli/format';
import { NOW, cli, fakeIo } from './helpers';

const ESC = String.fromCharCode(27);

/** Targets that fail the test if a command reaches a backend. */
const untouchable: Targets = {
  aws: () => {
    throw new Error('backend must not be built');
  },
  lab: () => Promise.reject(new Error('backend must not be built')),
  labControl: () => Promise.reject(new Error('backend must not be built')),
};

describe('usage errors exit 2 with one line on stderr', () => {
  it.each([
    [['join', 'i-123']],
    [['join', 'I-0123456789ABCDEF0']],
    [['leave', 'i-0123456789abcdef0x']],
    [['status', 'web-1']],
    [['executions', '--instance', 'i-zzzzzzzz']],
    [['executions', '--limit', '0']],
    [['executions', '--limit', '1001']],
    [['executions', '--limit', 'ten']],
    [['executions', '--since', 'yesterday']],
    [['executions', '--workflow', 'joins']],
    [['executions', '--status', 'failed']],
    [['redrive']],
    [['redrive', 'x', '--failed']],
    [['join', 'i-0123456789abcdef0', '--account', '1234']],
    [['join', 'i-0123456789abcdef0', '--instance-region', 'Europe']],
    [['join', 'i-0123456789abcdef0', '--timeout', '-5']],
    [['--region', 'moon-1', 'executions']],
    [['--join-arn', 'arn:aws:lambda:eu-west-1:123456789012:function:x', 'join', 'i-0123456789abcdef0']],
    [['lab', 'launch', '--tag', 'novalue']],
    [['lab', 'launch', '--count', '50']],
    [['lab', 'launch', '--distro', 'fedora']],
    [['nonsense']],
    [['executions', '--bogus']],
    [['show']],
  ])('%j', async (argv) => {
    const { code, io } = await cli(argv, untouchable);

    expect(code).toBe(Exit.usage);
    expect(io.stdout).toEqual([]);
    expect(io.errText.length).toBeGreaterThan(0);
    expect(io.errText).not.toMatch(/\n\s+at /);
  });

  it('no arguments prints the help and exits 2', async () => {
    const { code, io } = await cli([], untouchable);
    expect(code).toBe(2);
    expect(io.errText + io.outText).toMatch(/Usage: adjoin/);
  });
});

describe('--help', () => {
  it.each([['executions'], ['show'], ['redrive'], ['join'], ['leave'], ['reconcile'], ['status'], ['lab'], ['lab', 'launch'], ['lab', 'exec'], ['lab', 'up'], ['lab', 'terminate']])(
    '%j shows an example and exits 0',
    async (...cmd) => {
      const { code, io } = await cli([...cmd, '--help'], untouchable);
      expect(code).toBe(0);
      expect(io.outText).toMatch(/Examples:\n {2}\$ adjoin /);
    },
  );
});

describe('instance IDs and execution names', () => {
  it('accepts 8 and 17 hex digits only', () => {
    expect(validateInstanceId('i-0123abcd')).toBe('i-0123abcd');
    expect(validateInstanceId('i-0123456789abcdef0')).toBe('i-0123456789abcdef0');
    for (const bad of ['i-0123abc', 'i-0123456789abcdef', 'i-0123456789abcdefg', 'x-0123abcd', '']) expect(() => validateInstanceId(bad)).toThrow(/Not an EC2 instance ID/);
  });

  it('names executions so the instance is in the name, within Step Functions\u2019 rules', () => {
    const name = executionName('join', 'i-0123456789abcdef0', NOW);
    expect(name).toMatch(/^join-i-0123456789abcdef0-20261121T120000Z-[0-9a-f]{4}$/);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(instanceFromName(name)).toBe('i-0123456789abcdef0');
    expect(instanceFromName('join-i-0123abcd-20261121T120000Z-ab12')).toBe('i-0123abcd');
    expect(instanceFromName('7bf73129-1428-4cd3-a780-95db273d1602')).toBeUndefined();
    expect(executionName('reconcile', undefined, NOW)).toMatch(/^reconcile-cli-20261121T120000Z-[0-9a-f]{4}$/);
  });

  it('reads the instance back from an event input', () => {
    const event = ec2StateEvent({ instanceId: 'i-0123456789abcdef0', state: 'running', account: '123456789012', region: 'eu-west-1', time: NOW });
    expect(instanceFromInput(event)).toBe('i-0123456789abcdef0');
    expect(instanceFromInput({ dryRun: true })).toBeUndefined();
    expect(event.time).toBe('2026-11-21T12:00:00Z');
  });
});

describe('manners', () => {
  it('colours only on a TTY, and never with NO_COLOR or TERM=dumb', () => {
    expect(colourEnabled(true, {})).toBe(true);
    expect(colourEnabled(false, {})).toBe(false);
    expect(colourEnabled(true, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled(true, { NO_COLOR: '' })).toBe(true);
    expect(colourEnabled(true, { TERM: 'dumb' })).toBe(false);
  });

  it('aligns table columns by visible width (colour codes do not count)', () => {
    const s = makeStyle(true);
    const text = table(['A', 'B', 'C'], [[s.red('xx'), 'y', 'z'], ['x', s.green('yyyy'), 'z']], s);
    const plain = text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '').split('\n');
    expect(plain).toEqual(['A   B     C', 'xx  y     z', 'x   yyyy  z']);
  });

  it('prints durations and relative times the way people read them', () => {
    expect([850, 4_200, 42_000, 185_000, 3_720_000, 200_000_000].map(duration)).toEqual(['850ms', '4.2s', '42s', '3m 05s', '1h 02m', '2d 07h']);
    expect(relative(new Date(NOW.getTime() - 5 * 60_000), NOW)).toBe('5m ago');
    expect(relative(new Date(NOW.getTime() + 3_000), NOW)).toBe('in 3s');
  });

  it('parses --since ages and dates', () => {
    expect(parseSince('24h', NOW)?.toISOString()).toBe('2026-11-20T12:00:00.000Z');
    expect(parseSince('7d', NOW)?.toISOString()).toBe('2026-11-14T12:00:00.000Z');
    expect(parseSince('2026-11-20T08:00:00Z', NOW)?.toISOString()).toBe('2026-11-20T08:00:00.000Z');
    expect(parseSince('soon', NOW)).toBeUndefined();
  });

  it('prints JSON (and no colour) with --json even on a TTY', async () => {
    const io = fakeIo({ tty: true });
    const { code } = await cli(['--local', 'executions', '--json'], { ...untouchable, lab: () => Promise.resolve({ describeTarget: () => 'lab', listExecutions: () => Promise.resolve([]), describe: jest.fn(), timeline: jest.fn(), redrive: jest.fn(), start: jest.fn(), instanceStatus: jest.fn() }) }, io);
    expect(code).toBe(0);
    expect(JSON.parse(io.outText)).toEqual([]);
  });
});

describe('exit codes of SDK errors', () => {
  const err = (name: string, message: string): Error => Object.assign(new Error(message), { name });
  it.each([
    [err('CredentialsProviderError', 'Could not load credentials from any providers'), Exit.access],
    [err('Error', 'Region is missing'), Exit.access],
    [err('ExpiredTokenException', 'The security token included in the request is expired'), Exit.access],
    [err('UnrecognizedClientException', 'The security token included in the request is invalid.'), Exit.access],
    [err('ExecutionDoesNotExist', 'Execution Does Not Exist'), Exit.notFound],
    [err('StateMachineDoesNotExist', 'State Machine Does Not Exist'), Exit.notFound],
    [err('ValidationError', 'Stack with id X does not exist'), Exit.notFound],
    [err('InvalidArn', 'Invalid Arn'), Exit.usage],
    [err('ThrottlingException', 'Rate exceeded'), Exit.failed],
    [err('InternalServerError', 'boom'), Exit.failed],
    [Object.assign(err('Error', "EACCES: permission denied, mkdir '/run/netns'"), { code: 'EACCES' }), Exit.access],
  ])('%s → %d', (e, code) => {
    expect(classify(e).exitCode).toBe(code);
  });
});

describe('throttling through the real SDK retry stack (no network: a local request handler)', () => {
  it('uses adaptive retry for every client it builds', async () => {
    const clients = makeAwsClients('eu-west-1', undefined);
    for (const c of [clients.sfn, clients.cloudFormation, clients.ec2]) {
      expect(await c.config.retryStrategy()).toMatchObject({ mode: 'adaptive' });
    }
  });

  it('a ThrottlingException is retried and the call then succeeds', async () => {
    let calls = 0;
    const handler = {
      handle: () => {
        calls += 1;
        const throttled = calls === 1;
        const body = JSON.stringify(throttled ? { __type: 'ThrottlingException', message: 'Rate exceeded' } : { executions: [] });
        return Promise.resolve({
          response: {
            statusCode: throttled ? 400 : 200,
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `r${calls}` },
            body: Readable.from([Buffer.from(body)]),
          },
        });
      },
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    };
    const client = new SFNClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      retryMode: 'adaptive',
      maxAttempts: 3,
      requestHandler: handler,
    });

    const out = await client.send(new ListExecutionsCommand({ stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:adjoin-join' }));

    expect(out.executions).toEqual([]);
    expect(calls).toBe(2);
  });
});
