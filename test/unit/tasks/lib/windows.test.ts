import { joinParameters } from '../../../../tasks/lib/commands';
import { computerAttributes } from '../../../../tasks/adapters/ldap-directory';
import { expectedSpns, unsecuredJoinProblems, windowsJoinParameters, type ComputerObjectView } from '../../../../tasks/lib/windows';
import { INSTANCE, prepared, proceed, testSettings } from '../../../fakes';

const NAME = prepared.name;
const FQDN = prepared.fqdn;
const good = (): ComputerObjectView => ({
  sAMAccountName: `${NAME}$`,
  userAccountControl: 4096,
  dNSHostName: FQDN,
  servicePrincipalName: expectedSpns(NAME, FQDN),
});

describe('the computer object an unsecured Windows join expects', () => {
  it('is the object Prepare makes for Linux: the adapter attribute set passes the check', () => {
    const attrs = computerAttributes({ ou: 'OU=x,DC=corp,DC=example,DC=com', name: NAME, fqdn: FQDN, marker: { account: '123456789012', region: 'eu-west-1', instanceId: INSTANCE }, description: 'd', password: 'Aa1-secret-secret' });
    const values = (type: string): string[] => attrs.find((a) => a.type === type)?.values.map(String) ?? [];
    const view: ComputerObjectView = {
      sAMAccountName: values('sAMAccountName')[0],
      userAccountControl: Number(values('userAccountControl')[0]),
      dNSHostName: values('dNSHostName')[0],
      servicePrincipalName: values('servicePrincipalName'),
    };
    expect(unsecuredJoinProblems(view, NAME, FQDN)).toEqual([]);
  });

  it('names each thing that is wrong', () => {
    expect(unsecuredJoinProblems(good(), NAME, FQDN)).toEqual([]);
    // AD compares case-insensitively.
    expect(unsecuredJoinProblems({ ...good(), dNSHostName: FQDN.toUpperCase(), servicePrincipalName: expectedSpns(NAME, FQDN).map((s) => s.toUpperCase()) }, NAME, FQDN)).toEqual([]);
    expect(unsecuredJoinProblems({ ...good(), userAccountControl: 4098 }, NAME, FQDN)).toEqual(['userAccountControl 4098 has ACCOUNTDISABLE: the account cannot log in']);
    expect(unsecuredJoinProblems({ ...good(), userAccountControl: 512 }, NAME, FQDN)).toEqual(['userAccountControl 512 lacks WORKSTATION_TRUST_ACCOUNT (4096)']);
    expect(unsecuredJoinProblems({ servicePrincipalName: [`host/${NAME}`] }, NAME, FQDN)).toEqual([
      `sAMAccountName is absent, expected ${NAME}$`,
      'userAccountControl is absent',
      `dNSHostName is absent, expected ${FQDN}`,
      `servicePrincipalName host/${FQDN} is missing`,
      `servicePrincipalName RestrictedKrbHost/${NAME} is missing`,
      `servicePrincipalName RestrictedKrbHost/${FQDN} is missing`,
    ]);
    expect(unsecuredJoinProblems({ ...good(), sAMAccountName: 'OTHER$' }, NAME, FQDN)).toEqual([`sAMAccountName is OTHER$, expected ${NAME}$`]);
  });
});

describe('windowsJoinParameters', () => {
  const settings = testSettings();
  const windows = { ...proceed, platform: 'windows' as const, loginGroups: ['rdp users', 'ops'] };

  it('builds every parameter of the Windows document, the password only as a reference', () => {
    expect(windowsJoinParameters(settings, windows, prepared)).toEqual({
      DomainName: 'corp.example.com',
      NetbiosName: 'CORP',
      ComputerName: NAME,
      HostFqdn: FQDN,
      DomainControllers: '10.0.0.10,10.0.0.11',
      OneTimePassword: '{{ssm-secure:/adjoin/otp/i-0123456789abcdef0}}',
      ComputerOu: settings.directory.computerOu,
      LoginGroups: 'rdp users,ops',
      AdminGroups: '-',
      ProbeUsers: 'alice,bob',
    });
  });

  it('shares the Linux values where the documents share a parameter', () => {
    const linux = joinParameters(settings, windows, prepared);
    const win = windowsJoinParameters(settings, windows, prepared);
    for (const k of ['DomainName', 'ComputerName', 'HostFqdn', 'DomainControllers', 'OneTimePassword', 'ComputerOu', 'LoginGroups']) expect([k, win[k]]).toEqual([k, linux[k]]);
  });

  it('passes "-" for no login groups and the access options when given', () => {
    const p = windowsJoinParameters(settings, { ...windows, loginGroups: [] }, prepared, { adminGroups: ['win-admins'], remoteDesktopGroup: 'Bureau a distance', administratorsGroup: 'Admins' });
    expect(p).toMatchObject({ LoginGroups: '-', AdminGroups: 'win-admins', RemoteDesktopGroup: 'Bureau a distance', AdministratorsGroup: 'Admins' });
  });
});
