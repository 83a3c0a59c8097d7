#!/usr/bin/env -S npx tsx
/**
 * `adjoin` — the operator CLI. `npm run adjoin -- <args>` or `npx adjoin <args>`.
 * Wires the real targets (AWS SDK clients, the lab) to the command tree in cli/program.ts.
 */
import '../engine/polyfill';
import { processIo, run } from './program';
import { realTargets } from './targets';

const io = processIo();

run(process.argv.slice(2), io, realTargets(io)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`adjoin: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
