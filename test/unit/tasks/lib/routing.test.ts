import { ConfigurationError, InvalidInput } from '../../../../tasks/lib/errors';
import { directoriesToSearch, directoryNames, directorySettings, isManagedOu, lazyDirectories, route } from '../../../../tasks/lib/routing';
import { validateSettings, type Settings } from '../../../../tasks/lib/settings';
import { ACCOUNT, OU, REGION, testSettings } from '../../../fakes';

const EU_OU = 'OU=Linux,OU=Computers,DC=eu,DC=example,DC=com';
const EU_TEAM_OU = 'OU=Team,OU=Linux,OU=Computers,DC=eu,DC=example,DC=com';

/** Two directories: corp (the default) and eu; a rule per Region, one per tag. */
function twoDirectories(): Settings {
  const base = testSettings();
  const eu = { ...base.directory, domain: 'eu.example.com', netbiosName: 'EU', baseDn: 'DC=eu,DC=example,DC=com', computerOu: EU_OU, managedOus: [EU_OU] };
  return validateSettings({
    ...base,
    directories: { corp: base.directory, eu },
    routing: {
      ouTagKey: 'adjoin:ou',
      rules: [
        { match: { tag: { key: 'team', value: 'platform' } }, directory: 'eu', computerOu: EU_TEAM_OU },
        { match: { region: 'eu-central-1' }, directory: 'eu' },
        { match: { account: '210987654321', region: 'eu-central-1' }, directory: 'corp' },
      ],
    },
  });
}
const at = (region: string, tags: Record<string, string> = {}, account = ACCOUNT) => ({ account, region, tags });

describe('route', () => {
  it('uses the single directory, named default, when there is no routing', () => {
    // Act / Assess
    expect(directoryNames(testSettings())).toEqual(['default']);
    expect(route(testSettings(), at(REGION))).toEqual({ directory: 'default', computerOu: OU, reason: 'no routing rule matched: the first directory, default' });
  });

  it('takes the first matching rule, and the first directory when none matches', () => {
    // Prepare
    const s = twoDirectories();
    // Act / Assess
    expect(route(s, at('eu-central-1', {}, '210987654321'))).toMatchObject({ directory: 'eu', computerOu: EU_OU, reason: 'routing rule 2 chose directory eu' });
    expect(route(s, at(REGION, { team: 'platform' }))).toMatchObject({ directory: 'eu', computerOu: EU_TEAM_OU });
    expect(route(s, at(REGION, { team: 'other' }))).toMatchObject({ directory: 'corp', computerOu: OU });
  });

  it('accepts an OU tag naming a managed OU or an OU inside one (case-insensitive DN)', () => {
    // Prepare
    const s = twoDirectories();
    // Act / Assess
    expect(route(s, at('eu-central-1', { 'adjoin:ou': EU_TEAM_OU.toLowerCase() })).computerOu).toBe(EU_TEAM_OU.toLowerCase());
    expect(route(s, at('eu-central-1', { 'adjoin:ou': EU_OU })).reason).toMatch(/OU from tag adjoin:ou/);
  });

  it.each([
    ['an OU of the other directory', OU],
    ['the domain root', 'DC=eu,DC=example,DC=com'],
    ['a container, not an OU, inside a managed OU', `CN=Users,${EU_OU}`],
    ['a parent of the managed OU', 'OU=Computers,DC=eu,DC=example,DC=com'],
    ['an LDAP injection', `${EU_OU})(objectClass=*`],
    ['not a DN', 'Linux'],
  ])('refuses an OU tag naming %s, before anything is done', (_what, value) => {
    // Act / Assess
    expect(() => route(twoDirectories(), at('eu-central-1', { 'adjoin:ou': value }))).toThrow(InvalidInput);
    expect(() => route(twoDirectories(), at('eu-central-1', { 'adjoin:ou': value }))).toThrow(/only an OU inside the managed OUs of directory eu/);
  });

  it('refuses a rule whose computerOu is outside its directory', () => {
    // Prepare
    const s = twoDirectories();
    s.routing!.rules[0]!.computerOu = OU;
    // Act / Assess
    expect(() => route(s, at(REGION, { team: 'platform' }))).toThrow(ConfigurationError);
  });
});

describe('directories', () => {
  it('finds a directory by name and refuses an unknown name', () => {
    // Act / Assess
    expect(directorySettings(twoDirectories(), 'eu').netbiosName).toBe('EU');
    expect(() => directorySettings(twoDirectories(), 'us')).toThrow(/no directory named "us" \(configured: corp, eu\)/);
  });

  it('looks for a leaving instance in its recorded directory, else in every directory', () => {
    // Prepare
    const s = twoDirectories();
    // Act / Assess
    expect(directoriesToSearch(s, { 'adjoin:directory': 'eu' })).toEqual(['eu']);
    expect(directoriesToSearch(s, {})).toEqual(['corp', 'eu']);
    expect(directoriesToSearch(s, { 'adjoin:directory': 'gone' })).toEqual(['corp', 'eu']);
  });

  it('tells an OU inside a managed OU from one outside', () => {
    // Act / Assess
    expect(isManagedOu(EU_TEAM_OU, [EU_OU])).toBe(true);
    expect(isManagedOu(EU_OU, [EU_TEAM_OU])).toBe(false);
  });
});

describe('validateSettings: directories and routing', () => {
  it('checks every directory under its own name and every rule', () => {
    // Prepare
    const s = twoDirectories() as unknown as Record<string, unknown>;
    const bad = {
      ...s,
      directories: { corp: testSettings().directory, 'Bad.Name': {}, eu: { ...testSettings().directory, ldapUrls: ['ldap://dc'] } },
      routing: { ouTagKey: 'adjoin:ou', rules: [{ match: {}, directory: 'nowhere' }] },
      lifecycle: { onJoinFailure: 'RETRY' },
    };
    // Act / Assess
    expect(() => validateSettings(bad)).toThrow(/lifecycle\.onJoinFailure: must be ABANDON or CONTINUE.*"Bad\.Name" is not a valid name.*directories\.eu\.ldapUrls: "ldap:\/\/dc" is not ldaps:\/\/.*routing\.rules\[0\]\.directory: must be one of corp, Bad\.Name, eu/);
  });
});

describe('lazyDirectories (Deps.directoryFor)', () => {
  it('builds each directory once, on first use, and reuses the one already built for the default', () => {
    // Prepare
    const built: string[] = [];
    const first = { name: 'corp-built-by-deps' };
    const directoryFor = lazyDirectories(twoDirectories(), (d, name) => (built.push(name), { name: `${name}:${d.netbiosName}` }), first);
    // Act
    const a = directoryFor('eu');
    const b = directoryFor('eu');
    const c = directoryFor('corp');
    // Assess
    expect(a).toBe(b);
    expect(a).toEqual({ name: 'eu:EU' });
    expect(c).toBe(first);
    expect(built).toEqual(['eu']);
    expect(() => directoryFor('us')).toThrow(ConfigurationError);
  });
});
