import { Errors } from '../../../../tasks/lib/errors';
import { WindowsJoin, windowsFailure } from '../../../../tasks/lib/windows-join';
import { WINDOWS_DEFAULTS, windowsSettingsProblems } from '../../../../tasks/lib/windows-settings';
import { prepared, proceed, testSettings } from '../../../fakes';

const ID = 'i-0123456789abcdef0';
const CMD = '00000000-0000-4000-8000-000000000001';

describe('a failed Windows join command reads as the document\'s exit code says', () => {
  it.each([
    [2, Errors.JoinCommandFailed, /exit code 2: a document parameter is missing or not valid/],
    [4, Errors.JoinCommandFailed, /exit code 4: the domain does not resolve/],
    [5, Errors.JoinCommandFailed, /exit code 5: the domain refused the join/],
    [6, Errors.JoinCommandFailed, /exit code 6: the login groups could not be added/],
    [7, Errors.VerificationFailed, /exit code 7: the join worked but the verification failed/],
    [1, Errors.JoinCommandFailed, /ended Failed \(exit code 1\)\. Fix/],
  ])('exit %i → %s, with the output', (exitCode, name, meaning) => {
    const err = windowsFailure(ID, CMD, { status: 'Failed', exitCode, stdout: 'adjoin: joining', stderr: 'adjoin: FAILED: why' }, 'adjoin: joining\n--- stderr ---\nadjoin: FAILED: why');
    expect(err.name).toBe(name);
    expect(err.message).toMatch(meaning);
    expect(err.message).toContain(`Windows join command ${CMD} on ${ID}`);
    expect(err.message).toContain('adjoin: FAILED: why');
    expect(err.message).toMatch(/redrive/);
  });

  it('no exit code (Cancelled, TimedOut by SSM): the status alone', () => {
    const err = windowsFailure(ID, CMD, { status: 'TimedOut', exitCode: -1, stdout: '', stderr: '' }, '');
    expect(err.name).toBe(Errors.JoinCommandFailed);
    expect(err.message).toMatch(/ended TimedOut\. Fix/);
  });
});

describe('the Windows join command', () => {
  it('sends the Windows document with its parameters and the Windows deadline', () => {
    const settings = { ...testSettings(), windows: { ...WINDOWS_DEFAULTS, commandDeadlineSeconds: 2400, adminGroups: ['win-admins'] } };
    expect(WindowsJoin.document).toBe('joinWindows');
    expect(WindowsJoin.deadlineSeconds(settings)).toBe(2400);
    expect(WindowsJoin.parameters(settings, { ...proceed, platform: 'windows' }, prepared)).toMatchObject({
      OneTimePassword: `{{ssm-secure:${prepared.secretName}}}`,
      AdminGroups: 'win-admins',
      RemoteDesktopGroup: 'Remote Desktop Users',
      AdministratorsGroup: 'Administrators',
    });
  });
});

describe('windowsSettingsProblems', () => {
  it('accepts the defaults and no block at all', () => {
    expect(windowsSettingsProblems(undefined)).toEqual([]);
    expect(windowsSettingsProblems({ ...WINDOWS_DEFAULTS })).toEqual([]);
  });

  it('names every bad key', () => {
    const problems = windowsSettingsProblems({ commandDeadlineSeconds: 10, ssmOnlineDeadlineSeconds: 29, remoteDesktopGroup: 'x;y', administratorsGroup: '', adminGroups: ['ok', 'a|b'] });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['windows.commandDeadlineSeconds', 'windows.ssmOnlineDeadlineSeconds', 'windows.remoteDesktopGroup', 'windows.administratorsGroup', 'windows.adminGroups']);
    expect(windowsSettingsProblems('yes')).toEqual(['windows: must be an object']);
  });
});
