/**
 * The production ports, built once per cold start on first use (never at import: the lab and
 * the tests import task modules without any AWS or LDAP configuration).
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Deps, DepsProvider } from '../lib/deps';
import { DIRECTORY_LOOKUP_ENV, withLookedUpDirectories } from '../lib/directory-lookup';
import type { DirectoryService } from '../lib/ports';
import { joinSecretPath } from '../lib/naming';
import { lazyDirectories } from '../lib/routing';
import { loadSettings, type Settings } from '../lib/settings';
import { fleetFor } from './aws-fleet';
import { SdkDirectoryService } from './ds-directory-service';
import { DynamoClaims } from './dynamodb-claims';
import { DynamoPacer } from './dynamodb-pacer';
import { LdapDirectory } from './ldap-directory';
import { inLambda, powertoolsMetrics } from './observability';
import { SfnExecutionHistory } from './sfn-history';

/** ADJOIN_SETTINGS, with the DCs of `directoryId` directories read from Directory Service when this task looks them up. */
export async function loadDefaultSettings(env: NodeJS.ProcessEnv = process.env, ds?: DirectoryService): Promise<Settings> {
  const settings = loadSettings(env.ADJOIN_SETTINGS);
  return env[DIRECTORY_LOOKUP_ENV] === 'true' ? withLookedUpDirectories(settings, ds ?? new SdkDirectoryService()) : settings;
}

export function buildDefaultDeps(env: NodeJS.ProcessEnv = process.env, settings: Settings = loadSettings(env.ADJOIN_SETTINGS)): Deps {
  const directory = new LdapDirectory(settings.directory);
  // infra sets ADJOIN_CLAIMS_TABLE to the table's generated name (settings carry the default name).
  const table = env.ADJOIN_CLAIMS_TABLE ?? settings.claimsTableName;
  const claims = new DynamoClaims(table);
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
    claims,
    // The pacing lines and the SSM Online board live in the claims table too (keys pace/…, sweep/…;
    // the ssm-wait index); no pacing configured: neither.
    ...(settings.pacing ? { pacer: new DynamoPacer(table), board: claims } : {}),
    executions: new SfnExecutionHistory(),
    clock: { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))) },
    random: { bytes: (n) => randomBytes(n) },
    logger: new Logger({ serviceName: 'adjoin' }),
    ...(inLambda(env) ? { metrics: powertoolsMetrics() } : {}),
  };
}

let built: Promise<Deps> | undefined;

/**
 * The DepsProvider every production handler uses: built once per cold start (a Directory Service
 * look-up included). A failure is not kept: the next call tries again (and throws again).
 */
export const defaultDeps: DepsProvider = () => {
  if (!built) {
    const building = loadDefaultSettings(process.env).then((settings) => buildDefaultDeps(process.env, settings));
    built = building;
    building.catch(() => {
      if (built === building) built = undefined;
    });
  }
  return built;
};
