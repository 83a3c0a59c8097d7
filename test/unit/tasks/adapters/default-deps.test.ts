import { LdapDirectory } from '../../../../tasks/adapters/ldap-directory';
import { buildDefaultDeps, defaultDeps } from '../../../../tasks/adapters/default-deps';
import { ConfigurationError } from '../../../../tasks/lib/errors';
import { testSettings } from '../../../fakes';

describe('default deps', () => {
  it('builds the production ports from ADJOIN_SETTINGS without connecting anywhere', () => {
    // Act
    const deps = buildDefaultDeps({ ADJOIN_SETTINGS: JSON.stringify(testSettings()), AWS_REGION: 'eu-west-1' });
    // Assess
    expect(deps.settings.directory.domain).toBe('corp.example.com');
    expect(deps.directory).toBeInstanceOf(LdapDirectory);
    expect(deps.random.bytes(16)).toHaveLength(16);
    expect(deps.clock.now()).toBeInstanceOf(Date);
    const fleet = deps.fleetFor({ account: '123456789012', region: 'eu-west-1' });
    expect(deps.fleetFor({ account: '123456789012', region: 'eu-west-1' })).toBe(fleet);
  });

  it('fails with ConfigurationError when settings are missing', async () => {
    const saved = process.env.ADJOIN_SETTINGS;
    delete process.env.ADJOIN_SETTINGS;
    try {
      await expect(defaultDeps()).rejects.toThrow(ConfigurationError);
    } finally {
      if (saved !== undefined) process.env.ADJOIN_SETTINGS = saved;
    }
  });
});
