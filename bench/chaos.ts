/**
 * The chaos suite's figures on the real lab (the scenarios of lab/chaos.ts, the same ones
 * test/lab/chaos.test.ts asserts): a fault at each join state, real-tool checks after every
 * run, redrives after the fix, the leaves.
 *
 *   sudo npx tsx bench/chaos.ts [--json]          (npm run bench:chaos)
 *
 * Prints: per fault the end of the first run, its time, the redrive after the fix and the join
 * commands sent; runs, faults injected, checks, invariant violations (must be 0). The lab is
 * brought up when it is not (and then taken down at the end, also after a failure or Ctrl-C),
 * and leased meanwhile. Exit 1 on any violation.
 */
import '../engine/polyfill';
import * as world from '../lab/world';
import { chaosTable, runChaos } from '../lab/chaos';
import { downOnSignal } from './lab-join';

async function main(json: boolean, log: (l: string) => void): Promise<number> {
  const wasUp = await world.isUp();
  const t0 = Date.now();
  if (!wasUp) await world.up({ log, waitForOtherLabMs: 180_000 });
  const upSeconds = Math.round((Date.now() - t0) / 100) / 10;
  const release = world.lease();
  try {
    const report = await runChaos({ log });
    process.stdout.write(json ? `${JSON.stringify({ ...report, labUpSeconds: wasUp ? null : upSeconds }, null, 2)}\n` : `${chaosTable(report)}\n`);
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    release();
    if (!wasUp) {
      const report = await world.down();
      for (const p of report.problems) log(`lab down: ${p}`);
    }
  }
}

if (require.main === module) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('bench/chaos.ts needs root (the lab: network namespaces, Samba AD DC): sudo npx tsx bench/chaos.ts\n');
    process.exit(2);
  }
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const stopping = downOnSignal(log);
  main(process.argv.includes('--json'), log).then(
    (code) => {
      if (!stopping()) process.exit(code);
    },
    (err: unknown) => {
      if (stopping()) return;
      log(`bench/chaos: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
