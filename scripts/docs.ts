/**
 * `npm run docs`: rewrites the README's state-machine diagrams from the synthesized ASL.
 * `npm run docs -- --check` exits 1 when the README is out of date (test/infra checks it too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { synthesizeDefinitions } from '../infra/asl';
import { renderDiagrams, type AslMachine } from './diagram';

export function readmeWithDiagrams(readme: string): string {
  const defs = synthesizeDefinitions();
  const machines: Record<string, AslMachine> = { join: defs.join as unknown as AslMachine };
  if (defs['join-cleanup']) machines['join-cleanup'] = defs['join-cleanup'] as unknown as AslMachine;
  if (defs.leave) machines.leave = defs.leave as unknown as AslMachine;
  if (defs.reconcile) machines.reconcile = defs.reconcile as unknown as AslMachine;
  return renderDiagrams(readme, machines);
}

if (require.main === module) {
  const file = path.join(__dirname, '..', 'README.md');
  const before = fs.readFileSync(file, 'utf8');
  const after = readmeWithDiagrams(before);
  if (process.argv.includes('--check')) {
    if (after !== before) {
      process.stderr.write('README.md diagrams are out of date: run `npm run docs`\n');
      process.exit(1);
    }
    process.stdout.write('README.md diagrams are current\n');
  } else {
    fs.writeFileSync(file, after);
    process.stdout.write(after === before ? 'README.md diagrams already current\n' : 'README.md diagrams rewritten\n');
  }
}
