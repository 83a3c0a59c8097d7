/**
 * The published package: `npm pack` (prepack compiles infra/, tasks/, workflows/ to dist/), the
 * tarball unpacked as node_modules/adjoin of a scratch CDK app in a temp folder whose other
 * packages (the dependencies and the app's aws-cdk-lib and constructs, the peer dependencies)
 * are this repository's (symlinked: no network), and that app synthesizes
 * `new Adjoin(stack, 'Adjoin', { config: resolveConfig(raw) })` — bundling every task from the
 * package's compiled tasks/*.js with the package's own bundling options.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskIds } from '../../tasks/registry';

const Root = path.join(__dirname, '..', '..');
const MB = 1024 * 1024;

let scratch: string;
afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const app = `
const { App, Stack } = require('aws-cdk-lib');
const { Adjoin, resolveConfig } = require('adjoin');
const raw = require('./config.json');
const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Scratch', { env: { account: '111111111111', region: 'eu-west-1' } });
const adjoin = new Adjoin(stack, 'Adjoin', { config: resolveConfig(raw, { baseDir: __dirname }) });
if (!adjoin.join.stateMachine) throw new Error('no join machine');
app.synth();
`;

describe('npm package', () => {
  it('packs, installs into a scratch CDK app and synthesizes Adjoin there (tasks bundled from dist/)', () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-pack-'));
    const started = Date.now();
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: Root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/infra/index.js', 'dist/infra/index.d.ts', 'dist/infra/documents/join.sh', ...TaskIds.map((id) => `dist/tasks/${id}.js`)]));
    expect(files.filter((f) => /^(test|lab|engine|cli|bench)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    // The scratch app: adjoin from the tarball, its dependencies (and esbuild) from this repository.
    const modules = path.join(scratch, 'app', 'node_modules');
    fs.mkdirSync(path.join(modules, 'adjoin'), { recursive: true });
    execFileSync('tar', ['-xzf', path.join(scratch, packed[0]!.filename), '-C', path.join(modules, 'adjoin'), '--strip-components=1']);
    const pkg = JSON.parse(fs.readFileSync(path.join(modules, 'adjoin', 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string>; main: string; types: string };
    // A construct library: the app brings its own aws-cdk-lib and constructs (one copy of each in the app).
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(Object.keys(pkg.dependencies)).not.toEqual(expect.arrayContaining(['aws-cdk-lib']));
    expect(Object.keys(pkg.dependencies)).not.toEqual(expect.arrayContaining(['constructs']));
    for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), 'esbuild']) {
      fs.mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true });
      fs.symlinkSync(fs.realpathSync(path.join(Root, 'node_modules', dep)), path.join(modules, dep), 'dir');
    }
    const appDir = path.join(scratch, 'app');
    fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    fs.writeFileSync(path.join(appDir, 'package-lock.json'), JSON.stringify({ name: 'scratch', lockfileVersion: 3, packages: {} }));
    fs.copyFileSync(path.join(Root, 'infra', 'sample-ca.pem'), path.join(appDir, 'sample-ca.pem'));
    fs.copyFileSync(path.join(Root, 'infra', 'sample-config.json'), path.join(appDir, 'config.json'));
    fs.writeFileSync(path.join(appDir, 'app.js'), app);
    execFileSync(process.execPath, ['app.js'], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });

    const out = path.join(appDir, 'cdk.out');
    const template = JSON.parse(fs.readFileSync(path.join(out, 'Scratch.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(TaskIds.length);
    expect(types.filter((t) => t === 'AWS::StepFunctions::StateMachine')).toHaveLength(4); // join, leave, reconcile, join-cleanup
    const assets = fs.readdirSync(out).filter((d) => d.startsWith('asset.') && fs.existsSync(path.join(out, d, 'index.js')));
    expect(assets).toHaveLength(TaskIds.length);
    const sizes = assets.map((d) => fs.statSync(path.join(out, d, 'index.js')).size);
    for (const d of assets) expect(fs.readdirSync(path.join(out, d))).toEqual(['index.js']);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MB);
    process.stdout.write(`pack test: ${Math.round((Date.now() - started) / 1000)} s; asset sizes ${Math.min(...sizes)}..${Math.max(...sizes)} bytes\n`);
  }, 600_000);
});
