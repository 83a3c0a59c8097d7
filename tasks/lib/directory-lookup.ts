/**
 * AWS Managed Microsoft AD by `directory.directoryId`: the domain controllers' IPs come from
 * Directory Service (DescribeDirectories) at cold start instead of the configuration. The rule:
 *
 * - a directory with `directoryId` and no DCs (settings dcIps empty) is looked up; one with DCs
 *   pinned in the configuration is not (pinning wins, and costs no call);
 * - the directory must be known in this account and Region, of type MicrosoftAD, stage Active,
 *   and its DNS and NetBIOS names must be the configured `domain` and `netbiosName` (the OUs and
 *   the base DN are derived from them at synth); anything else is DirectoryLookupFailed, naming
 *   what was seen and what to do;
 * - dcIps become its DnsIpAddrs; empty ldapUrls become ldaps://<ip>:636, whose certificates are
 *   verified against `tlsServerName` (no API returns the names on the DC certificates, so the
 *   configuration must give it: infra/config.ts refuses the configuration at synth otherwise).
 *
 * The looked-up settings are kept for the life of the Lambda environment (the caller caches
 * them); a failed look-up is not kept, so the next invocation asks again. No AWS import.
 */
import { DirectoryLookupFailed } from './errors';
import type { DirectoryFacts, DirectoryService } from './ports';
import { validateSettings, type DirectorySettings, type Settings } from './settings';

/**
 * Set (to "true") by infra/functions.ts on the tasks that talk to the directory when a directory
 * gives only `directoryId`: they read its DCs at cold start (tasks/adapters/default-deps.ts).
 */
export const DIRECTORY_LOOKUP_ENV = 'ADJOIN_DIRECTORY_LOOKUP';

/** Does this directory's DC list come from Directory Service? */
export const needsLookup = (d: DirectorySettings): boolean => d.directoryId !== undefined && d.dcIps.length === 0;

/** Every directory of the settings (the one `directory`, and each of `directories`). */
const allDirectories = (s: Settings): DirectorySettings[] => [s.directory, ...Object.values(s.directories ?? {})];

/** True when any directory of the settings is looked up at cold start. */
export const settingsNeedLookup = (s: Settings): boolean => allDirectories(s).some(needsLookup);

/** Why these facts cannot serve this directory (undefined: they can). `expected` absent: only type and stage. */
export function directoryFactsProblem(facts: DirectoryFacts | undefined, directoryId: string, expected?: { domain: string; netbiosName: string }): string | undefined {
  const where = 'in this account and Region';
  if (!facts)
    return `Directory Service does not know ${directoryId} ${where}: check directory.directoryId (\`aws ds describe-directories\` lists the IDs), and that the stack is deployed in the directory's account and Region`;
  if (facts.type !== 'MicrosoftAD')
    return `${directoryId} is of type ${facts.type}, not MicrosoftAD (AWS Managed Microsoft AD): directory.directoryId is only for AWS Managed Microsoft AD; for ${facts.type} list the domain controllers in directory.domainControllers`;
  if (facts.stage !== 'Active')
    return `${directoryId} is ${facts.stage}, not Active: wait until \`aws ds describe-directories --directory-ids ${directoryId}\` shows Stage Active (or repair it), then redrive`;
  if (facts.dnsIpAddrs.length === 0) return `${directoryId} reports no DNS IP addresses (domain controllers)`;
  if (expected && facts.name.toLowerCase() !== expected.domain.toLowerCase())
    return `${directoryId} is ${facts.name}, but directory.domain is ${expected.domain}: fix directory.domain or directory.directoryId`;
  if (expected && facts.shortName !== undefined && facts.shortName.toUpperCase() !== expected.netbiosName.toUpperCase())
    return `${directoryId}'s NetBIOS name is ${facts.shortName}, but directory.netbiosName is ${expected.netbiosName}: fix directory.netbiosName`;
  return undefined;
}

/** One directory's settings with its DCs filled in from Directory Service. Throws DirectoryLookupFailed. */
export async function lookUpDirectory(d: DirectorySettings, ds: DirectoryService): Promise<DirectorySettings> {
  if (!needsLookup(d) || d.directoryId === undefined) return d;
  const facts = await ds.describe(d.directoryId);
  const problem = directoryFactsProblem(facts, d.directoryId, d);
  if (problem || !facts) throw new DirectoryLookupFailed(`Directory look-up of ${d.directoryId} failed: ${problem ?? 'no answer'}`);
  const dcIps = [...facts.dnsIpAddrs];
  return { ...d, dcIps, ldapUrls: d.ldapUrls.length > 0 ? d.ldapUrls : dcIps.map((ip) => `ldaps://${ip}:636`) };
}

/** The settings with every looked-up directory's DCs filled in (validated again). Unchanged when none is looked up. */
export async function withLookedUpDirectories(settings: Settings, ds: DirectoryService): Promise<Settings> {
  if (!settingsNeedLookup(settings)) return settings;
  // One call per directory ID (the default directory is also the first of `directories`).
  const asked = new Map<string, Promise<DirectoryFacts | undefined>>();
  const once: DirectoryService = {
    describe: (id) => {
      const known = asked.get(id) ?? ds.describe(id);
      asked.set(id, known);
      return known;
    },
  };
  const directory = await lookUpDirectory(settings.directory, once);
  const directories = settings.directories
    ? Object.fromEntries(await Promise.all(Object.entries(settings.directories).map(async ([name, d]) => [name, await lookUpDirectory(d, once)] as const)))
    : undefined;
  return validateSettings({ ...settings, directory, ...(directories ? { directories } : {}) });
}

/**
 * The configuration block to pin (`adjoin directory-info`): domain, NetBIOS name and the DCs.
 * The host name of each DC is the name on its LDAPS certificate, which no API returns: it is
 * left as a placeholder that synth refuses until it is replaced.
 */
export function pinnedDirectoryBlock(facts: DirectoryFacts): Record<string, unknown> {
  return {
    directory: {
      kind: 'aws-managed',
      directoryId: facts.directoryId,
      domain: facts.name.toLowerCase(),
      ...(facts.shortName ? { netbiosName: facts.shortName.toUpperCase() } : {}),
      domainControllers: facts.dnsIpAddrs.map((ip) => ({ hostName: `<name on the LDAPS certificate of ${ip}>`, ip })),
    },
  };
}
