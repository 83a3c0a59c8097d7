// `npm run build:lib` (and prepack): compiles infra/, tasks/ and workflows/ to dist/ (JS + .d.ts)
// and copies the files infra/ reads at synth (documents, sample configuration and CA), so the
// published package's Adjoin construct synthesizes from dist/ alone. Plain JS: runs before any build.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
for (const item of ['infra/documents', 'infra/sample-config.json', 'infra/sample-ca.pem']) {
  fs.cpSync(path.join(root, item), path.join(dist, item), { recursive: true });
}
