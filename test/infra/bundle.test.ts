/**
 * The deployed task assets: bundled with exactly the options infra/functions.ts gives
 * NodejsFunction (taskBundling), by esbuild directly (the CDK synth skips bundling in tests).
 * Each asset is minified, holds only what its task imports (the runtime's AWS SDK v3 stays
 * external), has no source map by default, and is at most 1 MB.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { build as esbuild, type BuildOptions } from 'esbuild';
import { PollingTasks, RepoRoot, taskBundling, taskEntry } from '../../infra/functions';
import { TaskNeeds } from '../../infra/permissions';
import { TaskIds } from '../../tasks/registry';
import { worstCaseCallMs } from '../../tasks/adapters/aws-clients';
import { InLambdaWait } from '../../tasks/lib/poll';
import { build, sampleConfig } from './helpers';

const MB = 1024 * 1024;

/** What NodejsFunction runs esbuild with for these bundling options (local bundling). */
function esbuildOptions(sourceMaps: boolean): BuildOptions {
  const b = taskBundling(sourceMaps);
  return {
    bundle: true,
    platform: 'node',
    target: b.target ?? 'node22',
    format: b.format === OutputFormat.ESM ? 'esm' : 'cjs',
    minify: b.minify === true,
    sourcemap: b.sourceMap === true,
    external: b.externalModules ?? [],
    ...(b.tsconfig ? { tsconfig: b.tsconfig } : {}),
    absWorkingDir: RepoRoot,
    logLevel: 'silent',
  };
}

let outdir: string;
beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-bundle-'));
});
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

describe('task bundles', () => {
  it('minified, AWS SDK external, no source maps unless lambda.sourceMaps', () => {
    expect(taskBundling(false)).toMatchObject({ minify: true, sourceMap: false, externalModules: ['@aws-sdk/*'], target: 'node22', format: 'cjs' });
    expect(taskBundling(true)).toMatchObject({ minify: true, sourceMap: true });
  });

  it('every task asset is at most 1 MB, has no .map, and leaves only @aws-sdk/* unbundled', async () => {
    const dir = path.join(outdir, 'default');
    const result = await esbuild({
      ...esbuildOptions(false),
      entryPoints: Object.fromEntries(TaskIds.map((id) => [id, taskEntry(id)])),
      outdir: dir,
      metafile: true,
    });
    const sizes = Object.fromEntries(TaskIds.map((id) => [id, fs.statSync(path.join(dir, `${id}.js`)).size]));
    process.stdout.write(`task asset sizes (bytes): ${JSON.stringify(sizes)}\n`);
    for (const size of Object.values(sizes)) expect(size).toBeLessThanOrEqual(MB);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.map'))).toEqual([]);
    // Minified: no line of the source's indentation survives.
    const sample = fs.readFileSync(path.join(dir, 'prepare-computer-object.js'), 'utf8');
    expect(sample.split('\n').length).toBeLessThan(50);
    const external = new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
    for (const name of external) expect(name).toMatch(/^(@aws-sdk\/|node:|[a-z_]+$)/); // node built-ins are bare names
    expect([...external].some((n) => n.startsWith('@aws-sdk/'))).toBe(true);
  }, 120_000);

  it('with lambda.sourceMaps the asset has its map', async () => {
    const dir = path.join(outdir, 'maps');
    await esbuild({ ...esbuildOptions(true), entryPoints: [taskEntry('record-leave')], outdir: dir });
    expect(fs.readdirSync(dir).sort()).toEqual(['record-leave.js', 'record-leave.js.map']);
  }, 120_000);
});

describe('task function settings from the lambda config', () => {
  type Fn = { Type: string; Properties: Record<string, unknown> };
  const functionsOf = (config = sampleConfig()): Fn[] =>
    Object.values(build(config).template.toJSON().Resources as Record<string, Fn>).filter((r) => r.Type === 'AWS::Lambda::Function');
  const env = (fn: Fn) => (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;

  // Directory tasks are limited as such, except the polling ones (they hold their function while they wait).
  const isDirectoryTask = (fn: Fn): boolean => {
    const id = String(fn.Properties.FunctionName).replace(/^adjoin-/, '') as keyof typeof TaskNeeds;
    return TaskNeeds[id].includes('directory') && !PollingTasks.includes(id);
  };

  it('by default: no NODE_OPTIONS (no maps to enable), 256 MB, metrics namespace, 20 reserved for directory tasks only (not the polling run-join-document)', () => {
    const fns = functionsOf();
    expect(fns.filter(isDirectoryTask).length).toBeGreaterThan(0);
    expect(fns.find((fn) => fn.Properties.FunctionName === 'adjoin-prepare-computer-object')?.Properties.ReservedConcurrentExecutions).toBe(20);
    expect(fns.find((fn) => fn.Properties.FunctionName === 'adjoin-run-join-document')?.Properties.ReservedConcurrentExecutions).toBeUndefined();
    for (const fn of fns) {
      expect(env(fn).NODE_OPTIONS).toBeUndefined();
      expect(env(fn).POWERTOOLS_METRICS_NAMESPACE).toBe('adjoin');
      expect(fn.Properties.MemorySize).toBe(256);
      expect(fn.Properties.ReservedConcurrentExecutions).toBe(isDirectoryTask(fn) ? 20 : undefined);
    }
  });

  it('a polling task (in-Lambda wait, tasks/lib/poll.ts) may run its wait plus the reserve its budget keeps; no task is under 30 s', () => {
    const timeouts = Object.fromEntries(functionsOf().map((fn) => [String(fn.Properties.FunctionName).replace(/^adjoin-/, ''), fn.Properties.Timeout as number]));
    for (const id of PollingTasks) expect(timeouts[id]).toBeGreaterThanOrEqual(InLambdaWait.maxSeconds + InLambdaWait.reserveSeconds);
    expect(PollingTasks).toEqual(['check-ssm-agent', 'run-join-document', 'run-windows-join-document']);
    expect(timeouts['check-ssm-agent']).toBe(90);
    // The reserve covers one more SDK call at its worst (all attempts, connect + request timeouts).
    expect(InLambdaWait.reserveSeconds * 1000).toBeGreaterThan(worstCaseCallMs());
    for (const t of Object.values(timeouts)) expect(t).toBeGreaterThanOrEqual(30);
  });

  it('lambda.reservedConcurrency sets (or with null removes) each limit', () => {
    for (const fn of functionsOf(sampleConfig((c) => { c.lambda = { reservedConcurrency: { directory: null, other: 50 } }; }))) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBe(isDirectoryTask(fn) ? undefined : 50);
    }
  });

  it('lambda.sourceMaps and lambda.memorySize reach every function', () => {
    for (const fn of functionsOf(sampleConfig((c) => { c.lambda = { sourceMaps: true, memorySize: 512 }; }))) {
      expect(env(fn).NODE_OPTIONS).toBe('--enable-source-maps');
      expect(fn.Properties.MemorySize).toBe(512);
    }
  });
});
