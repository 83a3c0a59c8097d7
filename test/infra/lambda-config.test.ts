import type { AdjoinConfigInput } from '../../infra/config';
import { LambdaDefaults } from '../../infra/lambda-config';
import { problemsOf as problemsWith, sampleConfig } from './helpers';

/** The problems of the sample configuration with `lambda` set to this value. */
const problemsOf = (lambda: unknown): string[] =>
  problemsWith((input) => {
    input.lambda = lambda as AdjoinConfigInput['lambda'];
  });

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
