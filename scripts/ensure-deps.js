// Runs before `npm run lab` and `npm test` (npm's pre-scripts): on a fresh clone, installs the
// npm dependencies first, so the quick start stays two commands. Plain JS: nothing is
// installed yet when it runs.
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const needed = ['tsx', 'jest', 'typescript', 'aws-cdk-lib', 'ldapts', 'aws-local-stepfunctions'];
// Some packages do not export package.json: look at the folder, not through require.resolve.
const missing = needed.filter((name) => !fs.existsSync(path.join(root, 'node_modules', name, 'package.json')));
if (missing.length > 0) {
  process.stderr.write(`adjoin: installing npm dependencies (missing: ${missing.join(', ')})\n`);
  // `npm ci`: exactly the committed lock file, which lists every platform's optional binaries,
  // so it installs as is on a fresh clone (and a later `npm install` leaves it unchanged).
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
