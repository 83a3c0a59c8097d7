/**
 * Helpers of the two-DC lab tests: a computer object made by the product's own adapter (which
 * reports the DC that wrote it), the product's join parameters for it, and a real PAM login
 * (pamtester) inside an instance.
 */
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { labDeps, labSettings, type LabFleet } from '../../lab/world/fleet';
import { joinParameters } from '../../tasks/lib/commands';
import type { PrepareComputerOutput } from '../../tasks/lib/contracts';
import { computerName, hostFqdn } from '../../tasks/lib/naming';
import { generateOneTimePassword } from '../../tasks/lib/otp';

/** Fails loudly (no skip) when the lab runs with one DC: these tests need two. */
export function assertTwoDcs(): void {
  const dcs = world.labState().dcs ?? [];
  if (dcs.length !== 2) throw new Error(`these tests need the two-DC lab (found ${dcs.length} DC): take the lab down and bring it up with dcs: 2`);
}

/** Creates the instance's computer object through the product's LdapDirectory; stores the OTP. */
export async function productComputer(fleet: LabFleet, instanceId: string): Promise<PrepareComputerOutput & { otp: string }> {
  const s = world.labState();
  const deps = labDeps();
  const name = computerName(instanceId);
  const fqdn = hostFqdn(name, s.domain.dnsDomain);
  const otp = generateOneTimePassword(deps.random);
  const obj = await deps.directory.createComputer({
    ou: s.domain.managedOu,
    name,
    fqdn,
    marker: { account: s.account, region: s.region, instanceId },
    description: `adjoin ${instanceId}`,
    password: otp,
  });
  const secretName = await fleet.putJoinSecret(instanceId, otp);
  return { name, dn: obj.dn, fqdn, action: 'created', secretName, otp, ...(obj.domainController ? { domainController: obj.domainController } : {}) };
}

/** The product's join parameters for this computer (DomainController from the computer). */
export function productJoinParameters(instanceId: string, computer: PrepareComputerOutput): Record<string, string> {
  const s = world.labState();
  const settings = labSettings();
  return joinParameters(
    settings,
    { instanceId, account: s.account, region: s.region, outcome: 'proceed', reason: 'lab test', platform: 'linux', loginGroups: settings.directory.loginGroups },
    computer,
  );
}

/** A real PAM authentication of `user` in the instance (pamtester through its own SSSD). */
export async function pamLogin(instanceId: string, user: string, password = fs.readFileSync(world.labState().domain.users[user]?.passwordFile ?? '/nonexistent', 'utf8')): Promise<{ ok: boolean; out: string }> {
  const r = await world.exec(instanceId, ['pamtester', 'login', user, 'authenticate'], { input: `${password}\n`, timeoutMs: 60_000 });
  return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim().slice(-400) };
}

/**
 * The KDC SSSD currently talks to: SSSD writes the server it picked for its domain to a kdcinfo
 * file for Kerberos (sssctl domain-status would say it too, but needs the system D-Bus).
 */
export async function sssdKdc(instanceId: string): Promise<string> {
  const r = await world.exec(instanceId, ['sh', '-c', 'cat /var/lib/sss/pubconf/kdcinfo.* 2>/dev/null'], { timeoutMs: 10_000 });
  return r.stdout.trim();
}

/** Forgets SSSD's cached lookups and asks it to go online now (SIGUSR2), so the next lookup asks a DC. */
export async function sssdRefresh(instanceId: string): Promise<void> {
  await world.exec(instanceId, ['sh', '-c', 'sss_cache -E; kill -USR2 "$(cat /run/sssd.pid)"'], { timeoutMs: 30_000 });
}

/** Polls `probe` (bounded) until it returns true. */
export async function eventually(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < 1000 && Date.now() - t0 < timeoutMs; i++) {
    if (await probe()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s`);
}
