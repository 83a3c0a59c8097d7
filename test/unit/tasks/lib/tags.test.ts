import { InvalidInput } from '../../../../tasks/lib/errors';
import { isOptedIn, isOptedOut, loginGroupsFor, optInDecision, parseLoginGroups, statusTagKeys } from '../../../../tasks/lib/tags';
import { testSettings } from '../../../fakes';

const t = testSettings().tags;

describe('opt-in / opt-out', () => {
  it('needs the opt-in tag with exactly its value (as IAM StringEquals on ssm:SendCommand: case-sensitive, untrimmed)', () => {
    // Prepare / Act / Assess
    expect(isOptedIn({ 'Domain:Join': 'true' }, t)).toBe(true);
    expect(isOptedIn({ 'Domain:Join': ' TRUE ' }, t)).toBe(false);
    expect(isOptedIn({ 'Domain:Join': 'True' }, t)).toBe(false);
    expect(isOptedIn({ 'Domain:Join': 'true ' }, t)).toBe(false);
    expect(isOptedIn({ 'Domain:Join': 'false' }, t)).toBe(false);
    expect(isOptedIn({ 'domain:join': 'true' }, t)).toBe(false);
    expect(isOptedIn({}, t)).toBe(false);
  });

  it('lets opt-out win over opt-in', () => {
    // Prepare
    const tags = { 'Domain:Join': 'true', autoadjoin: 'false' };
    // Act / Assess
    expect(isOptedOut(tags, t)).toBe(true);
    expect(optInDecision(tags, t)).toMatch(/opted out \(tag autoadjoin=false\)/);
  });

  it('says why an instance is not joined', () => {
    // Prepare / Act / Assess
    expect(optInDecision({}, t)).toMatch(/not opted in \(tag Domain:Join=true is missing\)/);
    expect(optInDecision({ 'Domain:Join': 'true' }, t)).toBeUndefined();
  });
});

describe('login groups', () => {
  it('parses a comma-separated list, trimmed and de-duplicated', () => {
    // Prepare / Act / Assess
    expect(parseLoginGroups(' linux-admins, Domain Users ,app.ops_1,linux-admins', 'adGroupName')).toEqual([
      'linux-admins',
      'Domain Users',
      'app.ops_1',
    ]);
  });

  it.each(['admins)(cn=*', 'a*', 'x\\2a', 'a;reboot', 'a$(id)', 'a`id`', 'a|b', 'a&b', "a'b", 'a"b', 'a\nb', 'a=b', 'a+b', '#a', 'x'.repeat(65), ' ', 'a<b', 'ops@corp.example.com'])(
    'refuses %p with InvalidInput naming the tag',
    (value) => {
      expect(() => parseLoginGroups(value, 'adGroupName')).toThrow(InvalidInput);
      expect(() => parseLoginGroups(value, 'adGroupName')).toThrow(/Tag adGroupName/);
    },
  );

  it('refuses too many groups', () => {
    expect(() => parseLoginGroups(Array.from({ length: 17 }, (_, i) => `g${i}`).join(','), 'adGroupName')).toThrow(/more than 16/);
  });

  it('uses the tag when present, else the configured default', () => {
    // Prepare
    const s = testSettings();
    // Act / Assess
    expect(loginGroupsFor({ adGroupName: 'web-ops' }, s)).toEqual(['web-ops']);
    expect(loginGroupsFor({}, s)).toEqual(['linux-admins']);
    expect(loginGroupsFor({ adGroupName: '  ' }, s)).toEqual(['linux-admins']);
    expect(() => loginGroupsFor({ adGroupName: '*' }, s)).toThrow(InvalidInput);
  });
});

describe('statusTagKeys', () => {
  it('puts every key under the prefix', () => {
    // Prepare / Act / Assess
    expect(statusTagKeys('adjoin:')).toEqual({
      status: 'adjoin:status',
      execution: 'adjoin:execution',
      claimedAt: 'adjoin:claimed-at',
      computerName: 'adjoin:computer-name',
      joinedAt: 'adjoin:joined-at',
      failedState: 'adjoin:failed-state',
    });
  });
});
