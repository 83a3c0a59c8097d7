/**
 * Lab test helpers: bring the world up once per file when it is not up (and leave it as found),
 * create a computer object the way the product does (ldapts over LDAPS as the service account,
 * the attribute set in lab/world/README.md, "Facts the code relies on"), read the directory
 * independently with ldapsearch in the DC.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Attribute, Client } from 'ldapts';
import * as world from '../../lab/world';
import { assertLabRoute, labSettings, type LabFleet } from '../../lab/world/fleet';
import { joinParameters as productJoinParameters } from '../../tasks/lib/commands';
import { formatMarker, MARKER_ATTRIBUTE } from '../../tasks/lib/marker';
import { computerName, hostFqdn } from '../../tasks/lib/naming';

/**
 * Brings the lab up if needed and holds a lease on it (another process's down() leaves it up
 * meanwhile); returns a function that restores what was found.
 */
export async function ensureLab(): Promise<{ restore: () => Promise<void>; startedHere: boolean; upMs: number }> {
  const wasUp = await world.isUp();
  const t0 = Date.now();
  // Another checkout's lab on this machine (one lab per machine): wait for it, bounded.
  if (!wasUp) await world.up({ log: (l) => process.stderr.write(`[lab] ${l}\n`), waitForOtherLabMs: 180_000 });
  const upMs = Date.now() - t0;
  const release = world.lease();
  return {
    startedHere: !wasUp,
    upMs,
    restore: async () => {
      release();
      if (!wasUp) await world.down();
    },
  };
}

/** A random one-time password from the same alphabet the product uses (no quotes). */
export function testOtp(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.+=@%:,~';
  const b = randomBytes(40);
  return `Aa1-${[...b].map((x) => alphabet[x % alphabet.length]).join('')}`;
}

/** An LDAPS client to the lab DC (CA verified), bound as `dn` with the password in `passwordFile`. */
async function boundClient(dn: string, passwordFile: string, timeout: number): Promise<Client> {
  const d = world.labState().domain;
  assertLabRoute(d.ldapsUrl);
  const client = new Client({
    url: d.ldapsUrl,
    timeout,
    connectTimeout: 5_000,
    tlsOptions: { ca: fs.readFileSync(d.caFile, 'utf8'), servername: d.dcFqdn, rejectUnauthorized: true },
  });
  await client.bind(dn, fs.readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, ''));
  return client;
}

/** Bound as the domain Administrator (test set-up only). */
export function adminClient(): Promise<Client> {
  const d = world.labState().domain;
  return boundClient(`CN=Administrator,CN=Users,${d.baseDn}`, d.adminPasswordFile, 15_000);
}

/** Bound as the service account, as the product binds. */
export function serviceClient(): Promise<Client> {
  const d = world.labState().domain;
  return boundClient(d.bindDn, d.bindPasswordFile, 10_000);
}

export interface PreparedComputer {
  name: string;
  fqdn: string;
  dn: string;
  otp: string;
}

/** Creates the computer object for an instance with a one-time password (one LDAP add). */
export async function prepareComputer(instanceId: string): Promise<PreparedComputer> {
  const s = world.labState();
  const d = s.domain;
  const name = computerName(instanceId);
  const fqdn = hostFqdn(name, d.dnsDomain);
  const dn = `CN=${name},${d.managedOu}`;
  const otp = testOtp();
  const client = await serviceClient();
  try {
    await client.add(dn, [
      new Attribute({ type: 'objectClass', values: ['computer'] }),
      new Attribute({ type: 'sAMAccountName', values: [`${name}$`] }),
      new Attribute({ type: 'userAccountControl', values: ['4096'] }),
      new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${otp}"`, 'utf16le')] }),
      new Attribute({ type: 'dNSHostName', values: [fqdn] }),
      new Attribute({ type: 'servicePrincipalName', values: [`host/${name}`, `host/${fqdn}`, `RestrictedKrbHost/${name}`, `RestrictedKrbHost/${fqdn}`] }),
      new Attribute({ type: 'description', values: [`lab test ${instanceId}`] }),
      new Attribute({ type: MARKER_ATTRIBUTE, values: [formatMarker({ account: s.account, region: s.region, instanceId })] }),
    ]);
  } finally {
    await client.unbind();
  }
  return { name, fqdn, dn, otp };
}

/**
 * The join document's parameters for a prepared computer, built by the product's own
 * joinParameters() (tasks/lib/commands.ts) from labSettings(): the lab checks the real contract.
 */
export function joinParameters(c: PreparedComputer, secretName: string, opts: { idMapping?: 'sid' | 'rfc2307'; loginGroups?: string[] } = {}): Record<string, string> {
  const s = world.labState();
  const settings = labSettings({ idMapping: opts.idMapping ?? 'sid' });
  const instanceId = /i-[0-9a-f]{17}$/.exec(secretName)?.[0] ?? 'i-00000000000000000';
  return productJoinParameters(
    settings,
    { instanceId, account: s.account, region: s.region, outcome: 'proceed', reason: 'lab test', platform: 'linux', loginGroups: opts.loginGroups ?? settings.directory.loginGroups },
    { name: c.name, dn: c.dn, fqdn: c.fqdn, action: 'created', secretName },
  );
}

/** Sends a document through the fleet and waits (bounded) for its end. */
export async function runDocument(fleet: LabFleet, instanceId: string, document: 'join' | 'verify', parameters: Record<string, string>) {
  const t0 = Date.now();
  const commandId = await fleet.sendCommand({ instanceId, document, parameters, comment: `lab test ${document}`, timeoutSeconds: 120 });
  const result = await fleet.waitForCommand(commandId, instanceId, 150_000);
  return { commandId, result, ms: Date.now() - t0 };
}
