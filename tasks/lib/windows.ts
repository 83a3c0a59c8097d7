/**
 * Windows instances: what the Windows join document (infra/documents/join-windows.ps1) needs.
 *
 * The computer object: nothing differs from Linux. An unsecured join
 * (`Add-Computer -Options UnsecuredJoin,PasswordPass,JoinWithNewName`) logs in as the
 * pre-created account with the password it is given, so the object Prepare makes for Linux is
 * exactly what Windows expects: sAMAccountName NAME$, userAccountControl 4096
 * (WORKSTATION_TRUST_ACCOUNT, enabled; without it the account is disabled), the one-time
 * password in unicodePwd, dNSHostName = FQDN, and the SPNs host/NAME, host/FQDN,
 * RestrictedKrbHost/NAME, RestrictedKrbHost/FQDN (Windows would register the same ones itself;
 * with them present Kerberos to the host works from the first boot). The join document then
 * changes the machine password (Reset-ComputerMachinePassword), which retires the one-time
 * password as adcli does on Linux. unsecuredJoinProblems() states these expectations as a
 * check, run against the real directory by test/lab/windows-object.test.ts.
 *
 * Document parameters (the `# param:` header of join-windows.ps1):
 *   DomainName, NetbiosName, ComputerName, HostFqdn, DomainControllers, OneTimePassword,
 *   ComputerOu, LoginGroups, RemoteDesktopGroup, AdminGroups, AdministratorsGroup, ProbeUsers
 * The one-time password is passed only as `{{ssm-secure:<parameter>}}`, as for Linux.
 */
import type { PrepareComputerOutput, ReadInstanceOutput } from './contracts';
import type { Settings } from './settings';
import type { WindowsSettings } from './windows-settings';

/** userAccountControl of a workstation trust account, the flag an unsecured join requires. */
export const WORKSTATION_TRUST_ACCOUNT = 0x1000;
/** userAccountControl ACCOUNTDISABLE: a disabled account cannot log in with any password. */
export const ACCOUNTDISABLE = 0x2;

/** The service principal names an unsecured join expects on the pre-created object. */
export function expectedSpns(name: string, fqdn: string): string[] {
  return [`host/${name}`, `host/${fqdn}`, `RestrictedKrbHost/${name}`, `RestrictedKrbHost/${fqdn}`];
}

export interface ComputerObjectView {
  sAMAccountName?: string;
  userAccountControl?: number;
  dNSHostName?: string;
  servicePrincipalName: string[];
}

/**
 * What is wrong with a computer object for an unsecured Windows join of `name` as `fqdn`
 * (empty: nothing). Names and SPNs are compared case-insensitively, as AD does.
 */
export function unsecuredJoinProblems(object: ComputerObjectView, name: string, fqdn: string): string[] {
  const problems: string[] = [];
  const lc = (s: string | undefined): string => (s ?? '').toLowerCase();
  if (lc(object.sAMAccountName) !== lc(`${name}$`)) problems.push(`sAMAccountName is ${object.sAMAccountName ?? 'absent'}, expected ${name}$`);
  const uac = object.userAccountControl;
  if (uac === undefined) problems.push('userAccountControl is absent');
  else {
    if ((uac & WORKSTATION_TRUST_ACCOUNT) === 0) problems.push(`userAccountControl ${uac} lacks WORKSTATION_TRUST_ACCOUNT (4096)`);
    if ((uac & ACCOUNTDISABLE) !== 0) problems.push(`userAccountControl ${uac} has ACCOUNTDISABLE: the account cannot log in`);
  }
  if (lc(object.dNSHostName) !== lc(fqdn)) problems.push(`dNSHostName is ${object.dNSHostName ?? 'absent'}, expected ${fqdn}`);
  const have = new Set(object.servicePrincipalName.map(lc));
  for (const spn of expectedSpns(name, fqdn)) if (!have.has(lc(spn))) problems.push(`servicePrincipalName ${spn} is missing`);
  return problems;
}

export interface WindowsAccessOptions {
  /** AD groups made local administrators (none by default). */
  adminGroups?: string[];
  /** Local group the login groups join (default: the document's, "Remote Desktop Users"). */
  remoteDesktopGroup?: string;
  /** Local administrators group (default: the document's, "Administrators"). */
  administratorsGroup?: string;
}

const list = (names: string[]): string => (names.length > 0 ? names.join(',') : '-');

/** The access options of the Windows settings (absent: the document's defaults). */
export const accessOf = (w: WindowsSettings | undefined): WindowsAccessOptions =>
  w ? { adminGroups: w.adminGroups, remoteDesktopGroup: w.remoteDesktopGroup, administratorsGroup: w.administratorsGroup } : {};

/** The Windows join document's parameters, analogous to joinParameters() for Linux. */
export function windowsJoinParameters(
  settings: Settings,
  instance: ReadInstanceOutput,
  computer: PrepareComputerOutput,
  access: WindowsAccessOptions = accessOf(settings.windows),
): Record<string, string> {
  const d = settings.directory;
  return {
    DomainName: d.domain.toLowerCase(),
    NetbiosName: d.netbiosName.toUpperCase(),
    ComputerName: computer.name,
    HostFqdn: computer.fqdn,
    DomainControllers: d.dcIps.join(','),
    OneTimePassword: `{{ssm-secure:${computer.secretName}}}`,
    ComputerOu: d.computerOu,
    LoginGroups: list(instance.loginGroups),
    AdminGroups: list(access.adminGroups ?? []),
    ...(access.remoteDesktopGroup ? { RemoteDesktopGroup: access.remoteDesktopGroup } : {}),
    ...(access.administratorsGroup ? { AdministratorsGroup: access.administratorsGroup } : {}),
    ProbeUsers: d.probeUsers.join(','),
  };
}
