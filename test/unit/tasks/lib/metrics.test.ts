/**
 * Outcome metrics: makeTask counts each step's outcome and each failure through the MetricsPort,
 * and the Powertools adapter writes them as CloudWatch EMF in the namespace the dashboard reads.
 */
jest.mock('../../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { SSMClient } from '@aws-sdk/client-ssm';
import { inLambda, powertoolsMetrics, traced } from '../../../../tasks/adapters/observability';
import type { DepsProvider } from '../../../../tasks/lib/deps';
import { DirectoryUnavailable, InvalidInput } from '../../../../tasks/lib/errors';
import type { MetricName, MetricsPort } from '../../../../tasks/lib/metrics';
import { makeTask } from '../../../../tasks/lib/task';
import { makeHandler as makeRecordLeave } from '../../../../tasks/record-leave';
import { refOf, world } from '../../../fakes';

function recording(): { port: MetricsPort; counted: [MetricName, Record<string, string>][] } {
  const counted: [MetricName, Record<string, string>][] = [];
  return { port: { count: (name, dims) => counted.push([name, dims]) }, counted };
}

describe('makeTask metrics', () => {
  it('counts the outcome of a step that returns one, with its workflow', async () => {
    const w = world();
    const m = recording();
    const provider: DepsProvider = () => Promise.resolve({ ...w.deps, metrics: m.port });
    await makeRecordLeave(provider)({ instance: refOf(1), deleted: [{ dn: 'CN=A', deleted: true, dnsRecordsRemoved: 0 }] });
    await makeRecordLeave(provider)({ instance: refOf(1), deleted: [{ dn: 'CN=B', deleted: false, outcome: 'skipped', reason: 'x' }] });
    expect(m.counted).toEqual([
      ['StepOutcome', { Workflow: 'leave', Outcome: 'left' }],
      ['StepOutcome', { Workflow: 'leave', Outcome: 'partial' }],
    ]);
  });

  it('counts a failure by workflow, step and error name (derived names once the input parsed)', async () => {
    const w = world();
    const m = recording();
    const provider: DepsProvider = () => Promise.resolve({ ...w.deps, metrics: m.port });
    const parse = (raw: unknown): { kind: string } => {
      if (typeof raw !== 'string') throw new InvalidInput('not a string');
      return { kind: raw };
    };
    const task = makeTask({ workflow: (i: { kind: string }) => (i.kind === 'r' ? 'reconcile' : 'leave'), step: 'Delete computer object' }, provider, parse, () => {
      throw new DirectoryUnavailable('DC down');
    });
    await expect(task('r')).rejects.toThrow('DC down');
    await expect(task(42)).rejects.toThrow('not a string');
    const plain = makeTask({ workflow: 'join', step: 'Read instance' }, provider, (x) => x, () => {
      throw new TypeError('bug');
    });
    await expect(plain({})).rejects.toThrow('bug');
    expect(m.counted).toEqual([
      ['StepFailed', { Workflow: 'reconcile', Step: 'Delete computer object', Error: 'DirectoryUnavailable' }],
      ['StepFailed', { Workflow: 'unknown', Step: 'Delete computer object', Error: 'InvalidInput' }],
      ['StepFailed', { Workflow: 'join', Step: 'Read instance', Error: 'Unexpected' }],
    ]);
  });

  it('without a metrics port nothing is counted and the step still runs', async () => {
    const w = world();
    const out = await makeRecordLeave(() => Promise.resolve(w.deps))({ instance: refOf(1), deleted: [] });
    expect(out.outcome).toBe('left');
  });
});

describe('Powertools adapters', () => {
  it('powertoolsMetrics writes one EMF document per count, namespace adjoin, service dimension', () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => lines.push(String(s)) > 0);
    try {
      powertoolsMetrics().count('StepOutcome', { Workflow: 'join', Outcome: 'joined' });
    } finally {
      spy.mockRestore();
    }
    type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    const docs = lines.join('').split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Emf);
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'adjoin', Metrics: [{ Name: 'StepOutcome', Unit: 'Count' }] });
    expect([...(doc._aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [])].sort()).toEqual(['Outcome', 'Workflow', 'service']);
    expect(doc).toMatchObject({ service: 'adjoin', Workflow: 'join', Outcome: 'joined' });
  });

  it('traced() leaves a client alone outside Lambda and adds the X-Ray middleware in Lambda', () => {
    const client = new SSMClient({ region: 'eu-west-1' });
    const before = client.middlewareStack.identify().length;
    expect(inLambda({})).toBe(false);
    expect(traced(client, {})).toBe(client);
    expect(client.middlewareStack.identify()).toHaveLength(before);
    const saved = process.env.AWS_EXECUTION_ENV;
    process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs22.x'; // what the Lambda runtime sets; Tracer reads it
    try {
      expect(inLambda({ AWS_LAMBDA_FUNCTION_NAME: 'adjoin-read-instance' })).toBe(true);
      expect(traced(client, { AWS_LAMBDA_FUNCTION_NAME: 'adjoin-read-instance' })).toBe(client);
    } finally {
      if (saved === undefined) delete process.env.AWS_EXECUTION_ENV;
      else process.env.AWS_EXECUTION_ENV = saved;
    }
    expect(client.middlewareStack.identify().length).toBeGreaterThan(before);
  });
});
