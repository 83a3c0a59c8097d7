/**
 * The production ports, built once per cold start on first use (never at import: the lab and
 * the tests import task modules without any AWS or LDAP configuration).
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Deps, DepsProvider } from '../lib/deps';
import { joinSecretPath } from '../lib/naming';
import { lazyDirectories } from '../lib/routing';
import { loadSettings } from '../lib/settings';
import { fleetFor } from './aws-fleet';
import { DynamoClaims } from './dynamodb-claims';
import { LdapDirectory } from './ldap-directory';
import { inLambda, powertoolsMetrics } from './observability';
import { SfnExecutionHistory } from './sfn-history';

export function buildDefaultDeps(env: NodeJS.ProcessEnv = process.env): Deps {
  const settings = loadSettings(env.ADJOIN_SETTINGS);
  const directory = new LdapDirectory(settings.directory);
  return {
    settings,
    directory,
    directoryFor: lazyDirectories(settings, (d) => new LdapDirectory(d), directory),
    fleetFor: fleetFor({
      documents: settings.documents,
      secretPath: joinSecretPath(settings.documents.join),
      ...(settings.otpKeyId ? { secretKeyId: settings.otpKeyId } : {}),
      ...(settings.memberRoleName ? { memberRoleName: settings.memberRoleName } : {}),
    }),
    // infra sets ADJOIN_CLAIMS_TABLE to the table's generated name (settings carry the default name).
    claims: new DynamoClaims(env.ADJOIN_CLAIMS_TABLE ?? settings.claimsTableName),
    executions: new SfnExecutionHistory(),
    clock: { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))) },
    random: { bytes: (n) => randomBytes(n) },
    logger: new Logger({ serviceName: 'adjoin' }),
    ...(inLambda(env) ? { metrics: powertoolsMetrics() } : {}),
  };
}

let built: Deps | undefined;

/** The DepsProvider every production handler uses. A ConfigurationError is thrown again on each call. */
export const defaultDeps: DepsProvider = () => {
  try {
    built ??= buildDefaultDeps();
    return Promise.resolve(built);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
};
