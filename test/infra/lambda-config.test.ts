import { resolveConfig, type AdjoinConfigInput } from '../../infra/config';
import { LambdaDefaults } from '../../infra/lambda-config';
import { ConfigurationError } from '../../tasks/lib/errors';
import { InfraDir, sampleConfig, sampleInput } from './helpers';

function problemsOf(lambda: unknown): string[] {
  const input = sampleInput() as AdjoinConfigInput & Record<string, unknown>;
  input.lambda = lambda as AdjoinConfigInput['lambda'];
  try {
    resolveConfig(input, { baseDir: InfraDir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

describe('config lambda', () => {
  it('defaults: 256 MB, 20 reserved for each directory task, none for the others, no source maps', () => {
    expect(sampleConfig().lambda).toEqual({ memorySize: 256, reservedConcurrency: { directory: 20 }, sourceMaps: false });
    expect(LambdaDefaults.reservedConcurrency).toEqual({ directory: 20 });
  });

  it('takes each key; null removes a reservation', () => {
    const c = sampleConfig((i) => { i.lambda = { memorySize: 1024, sourceMaps: true, reservedConcurrency: { directory: null, other: 100 } }; });
    expect(c.lambda).toEqual({ memorySize: 1024, reservedConcurrency: { other: 100 }, sourceMaps: true });
  });

  it('names every bad key', () => {
    expect(problemsOf({ memorySize: 64, sourceMaps: 'yes', reservedConcurrency: { directory: 0, others: 5 }, timeout: 3 }).sort()).toEqual([
      'lambda.memorySize: must be a whole number of MB from 128 to 10240',
      'lambda.reservedConcurrency.directory: must be a whole number from 1 to 1000, or null for none',
      'lambda.reservedConcurrency.others: unknown key',
      'lambda.sourceMaps: must be true or false',
      'lambda.timeout: unknown key',
    ]);
    expect(problemsOf([])).toEqual(['lambda: must be an object']);
    expect(problemsOf({ reservedConcurrency: 5 })).toEqual(['lambda.reservedConcurrency: must be an object {directory, other}']);
  });
});
