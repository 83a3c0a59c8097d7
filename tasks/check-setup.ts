/**
 * "Check setup" (`adjoin doctor`): runs every check of tasks/lib/doctor.ts from inside the VPC,
 * with the same network, security groups, settings and credentials as the other tasks, and
 * returns the report ({ ok, checks: [{ name, ok, detail, fix }] }). Invoked by the CLI (Lambda
 * Invoke), never by a workflow. A failed check is data, not an error: the handler throws only
 * for bad input or configuration.
 */
import { buildProbes } from './adapters/doctor-ports';
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { type DoctorPorts, type DoctorReport, parseDoctorInput, runDoctor } from './lib/doctor';

export type ProbesFor = (settings: DoctorPorts['settings']) => Pick<DoctorPorts, 'probe' | 'directory' | 'aws'>;

export const makeHandler =
  (deps: DepsProvider, probesFor: ProbesFor = (settings) => buildProbes(settings, { region: process.env.AWS_REGION ?? 'us-east-1' })) =>
  async (event: unknown): Promise<DoctorReport> => {
    const d = await deps();
    d.logger.resetKeys();
    d.logger.appendKeys({ step: 'Check setup' });
    const input = parseDoctorInput(event);
    // The table's generated name, as every task reads it (tasks/adapters/default-deps.ts).
    const claimsTableName = process.env.ADJOIN_CLAIMS_TABLE ?? d.settings.claimsTableName;
    const report = await runDoctor(input, { settings: d.settings, clock: d.clock, random: d.random, claimsTableName, ...probesFor(d.settings) });
    d.logger.info('Setup checked', { ok: report.ok, failed: report.checks.filter((c) => !c.ok).map((c) => c.name) });
    return report;
  };
export const handler = makeHandler(defaultDeps);
