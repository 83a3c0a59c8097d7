#!/usr/bin/env -S npx tsx
/**
 * `adjoin` — the operator CLI. `npm run adjoin -- <args>` or `npx adjoin <args>`.
 * Wires the real targets (AWS SDK clients, the lab) to the command tree in cli/program.ts.
 */
import '../lab/engine/polyfill';
import { AwsBackend } from './aws-backend';
import { processIo, run, type Targets } from './program';

const targets: Targets = {
  aws: (options) => new AwsBackend(options),
  lab: async (globals) => {
    const { LabBackend } = await import('./lab-backend');
    const link = await import('./lab-link');
    return new LabBackend({
      store: link.labStore(),
      runtime: link.loadLabRuntime,
      world: link.labWorld,
      identity: link.labIdentity,
      statusPrefix: globals.tagPrefix,
    });
  },
  labControl: async (globals) => {
    const link = await import('./lab-link');
    const backend = await targets.lab(globals);
    return { world: link.labWorld, backend: () => Promise.resolve(backend) };
  },
};

run(process.argv.slice(2), processIo(), targets).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`adjoin: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
