import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configFromContext, loadConfigFile, resolveConfig, toSettings, type AdjoinConfigInput } from '../../infra/config';
import { ConfigurationError } from '../../tasks/lib/errors';
import { validateSettings } from '../../tasks/lib/settings';
import { InfraDir, sampleConfig, sampleInput } from './helpers';

/** The problems a bad configuration reports (fails the test if it does not throw ConfigurationError). */
function problemsOf(change: (c: AdjoinConfigInput & Record<string, unknown>) => void): string[] {
  const input = sampleInput() as AdjoinConfigInput & Record<string, unknown>;
  change(input);
  try {
    resolveConfig(input, { baseDir: InfraDir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

const minimal = (kind: 'aws-managed' | 'entra-ds' | 'self-managed'): AdjoinConfigInput => ({
  directory: {
    kind,
    domain: 'Corp.Example.com',
    netbiosName: 'corp',
    domainControllers: [{ hostName: 'dc1.corp.example.com', ip: '10.0.1.10' }],
    caBundleFile: 'sample-ca.pem',
    serviceAccountSecret: 'adjoin/bind',
    idMapping: { mode: 'rfc2307' },
    ...(kind === 'aws-managed' ? {} : { probeUsers: ['alice'] }),
  },
  network: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
});

describe('the sample configuration', () => {
  it('is valid and produces valid Settings', () => {
    const config = sampleConfig();
    const settings = toSettings(config);
    expect(validateSettings(JSON.parse(JSON.stringify(settings)))).toEqual(settings);
    expect(settings.directory.caParameterName).toBe('/adjoin/ca-bundle');
    expect(settings.directory.caPem).toBeUndefined(); // the PEM goes to SSM, not into the Lambda environment
    expect(settings.documents).toEqual({ join: 'adjoin-join', verify: 'adjoin-verify' });
    expect(settings.memberRoleName).toBe('adjoin-member');
    expect(settings.directory.bindSecretId).toMatch(/^arn:aws:secretsmanager:/);
    expect(JSON.stringify(settings).length).toBeLessThan(3000); // Lambda environment is limited to 4 KB
  });

  it('reads the CA bundle at synth', () => {
    expect(sampleConfig().directory.caPem).toContain('-----BEGIN CERTIFICATE-----');
  });
});

describe('defaults of each directory kind', () => {
  it('aws-managed: computers in OU=Computers,OU=<NetBIOS>, LDAPS URLs from the DC host names, probe user Admin', () => {
    const c = resolveConfig(minimal('aws-managed'), { baseDir: InfraDir });
    expect(c.directory.domain).toBe('corp.example.com');
    expect(c.directory.netbiosName).toBe('CORP');
    expect(c.directory.baseDn).toBe('DC=corp,DC=example,DC=com');
    expect(c.directory.computerOu).toBe('OU=Computers,OU=CORP,DC=corp,DC=example,DC=com');
    expect(c.directory.managedOus).toEqual([c.directory.computerOu]);
    expect(c.directory.ldapUrls).toEqual(['ldaps://dc1.corp.example.com:636']);
    expect(c.directory.probeUsers).toEqual(['Admin']);
    expect(c.directory.insecure).toBe(false);
  });

  it('entra-ds: computers in OU=AADDC Computers, and LDAPS cannot be turned off', () => {
    const c = resolveConfig(minimal('entra-ds'), { baseDir: InfraDir });
    expect(c.directory.computerOu).toBe('OU=AADDC Computers,DC=corp,DC=example,DC=com');
    const input = minimal('entra-ds');
    input.directory.insecure = true;
    expect(() => resolveConfig(input, { baseDir: InfraDir })).toThrow(/directory.insecure: .*needs LDAPS/);
  });

  it('self-managed: the computer OU must be given', () => {
    expect(() => resolveConfig(minimal('self-managed'), { baseDir: InfraDir })).toThrow(/directory.computerOu: is required for a self-managed directory/);
    const input = minimal('self-managed');
    input.directory.computerOu = 'OU=Linux,OU=Servers,DC=corp,DC=example,DC=com';
    expect(resolveConfig(input, { baseDir: InfraDir }).directory.managedOus).toEqual(['OU=Linux,OU=Servers,DC=corp,DC=example,DC=com']);
  });

  it('tags, timings and reconcile defaults', () => {
    const c = resolveConfig(minimal('aws-managed'), { baseDir: InfraDir });
    expect(c.tags).toEqual({
      optIn: { key: 'Domain:Join', value: 'true' },
      optOut: { key: 'autoadjoin', value: 'false' },
      loginGroupKey: 'adGroupName',
      statusPrefix: 'adjoin:',
      restrictCommandsToOptedIn: true,
    });
    expect(c.timings).toEqual({ settleSeconds: 0, ssmOnlineDeadlineSeconds: 600, commandDeadlineSeconds: 600, claimLeaseSeconds: 3600 });
    expect(c.reconcile).toEqual({ enabled: true, schedule: 'rate(6 hours)', graceSeconds: 86400, maxDeletions: 25, dryRun: false });
    expect(c.resourcePrefix).toBe('adjoin');
    expect(c.naming.prefix).toBe('');
    expect(c.logRetentionDays).toBe(90);
  });

  it('sid id mapping is the default and needs the domain SID', () => {
    const input = minimal('aws-managed');
    delete input.directory.idMapping;
    expect(() => resolveConfig(input, { baseDir: InfraDir })).toThrow(/directory.idMapping.domainSid: is required/);
  });
});

describe('a bad configuration names every bad key', () => {
  it('reports all problems at once', () => {
    const problems = problemsOf((c) => {
      c.directory.domain = 'not a domain';
      c.directory.netbiosName = 'THIS-NAME-IS-TOO-LONG';
      c.directory.domainControllers = [{ hostName: 'dc1', ip: '10.0.1.300' }];
      c.network.subnetIds = [];
      c.network.vpcId = 'vpc-nope';
      c.timings = { settleSeconds: -1, commandDeadlineSeconds: 1.5 };
      c.reconcile = { maxDeletions: 20000, schedule: 'every day' };
      c.tags = { optIn: 'Domain:Join' };
      c.resourcePrefix = 'Adjoin!';
    });
    const keys = problems.map((p) => p.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining([
      'directory.domain',
      'directory.netbiosName',
      'directory.domainControllers[0].hostName',
      'directory.domainControllers[0].ip',
      'network.subnetIds',
      'network.vpcId',
      'timings.settleSeconds',
      'timings.commandDeadlineSeconds',
      'reconcile.maxDeletions',
      'reconcile.schedule',
      'tags.optIn',
      'resourcePrefix',
    ]));
  });

  it('names unknown keys (typos are not silently ignored)', () => {
    const problems = problemsOf((c) => {
      (c.directory as unknown as Record<string, unknown>).domian = 'corp.example.com';
      c.timeouts = {};
    });
    expect(problems).toEqual(expect.arrayContaining(['directory.domian: unknown key', 'timeouts: unknown key']));
  });

  it('refuses plain LDAP unless insecure, and needs a CA bundle unless insecure', () => {
    expect(problemsOf((c) => { c.directory.ldapUrls = ['ldap://dc1.corp.example.com']; })).toEqual([
      expect.stringMatching(/^directory.ldapUrls: .*ldaps/),
    ]);
    expect(problemsOf((c) => { delete c.directory.caBundleFile; })).toEqual([expect.stringMatching(/^directory.caBundleFile: is required/)]);
    expect(problemsOf((c) => { c.directory.caBundleFile = 'no-such.pem'; })).toEqual([expect.stringMatching(/^directory.caBundleFile: cannot read/)]);
  });

  it('checks the OUs against the domain', () => {
    const problems = problemsOf((c) => {
      c.directory.computerOu = 'OU=Linux,DC=other,DC=org';
      c.directory.managedOus = ['OU=Servers,DC=corp,DC=example,DC=com'];
    });
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^directory.managedOus: must include directory.computerOu/),
      expect.stringMatching(/^directory.computerOu: .* is not inside DC=corp,DC=example,DC=com/),
    ]));
  });

  it('needs the orchestrator account when member accounts are given', () => {
    expect(problemsOf((c) => { delete c.env; })).toEqual([expect.stringMatching(/^env.account: is required when memberAccounts/)]);
    expect(problemsOf((c) => { c.memberAccounts = ['111111111111']; })).toEqual([expect.stringMatching(/^memberAccounts: must not include/)]);
    expect(problemsOf((c) => { c.memberAccounts = ['12345']; })).toEqual([expect.stringMatching(/^memberAccounts: /)]);
  });

  it('refuses a domain SID with rfc2307 (SSSD would fail)', () => {
    const problems = problemsOf((c) => { c.directory.idMapping = { mode: 'rfc2307', domainSid: 'S-1-5-21-1-2-3' } as unknown as { mode: 'rfc2307' }; });
    expect(problems).toEqual([expect.stringMatching(/^directory.idMapping.domainSid: must not be set with rfc2307/)]);
  });

  it('a configuration that is not an object', () => {
    expect(() => resolveConfig([])).toThrow(ConfigurationError);
  });
});

describe('where the configuration comes from', () => {
  it('context adjoin:config (an object) wins over adjoin:configFile', () => {
    const inline = { ...minimal('aws-managed'), directory: { ...minimal('aws-managed').directory, caBundleFile: path.join(InfraDir, 'sample-ca.pem') } };
    const ctx: Record<string, unknown> = { 'adjoin:config': inline, 'adjoin:configFile': 'nope.json' };
    expect(configFromContext((k) => ctx[k]).directory.domain).toBe('corp.example.com');
  });

  it('context adjoin:configFile: relative names inside it are relative to the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-config-'));
    try {
      fs.copyFileSync(path.join(InfraDir, 'sample-ca.pem'), path.join(dir, 'ca.pem'));
      const input = { ...minimal('aws-managed'), directory: { ...minimal('aws-managed').directory, caBundleFile: 'ca.pem' } };
      fs.writeFileSync(path.join(dir, 'adjoin.json'), JSON.stringify(input));
      expect(loadConfigFile(path.join(dir, 'adjoin.json')).directory.caPem).toContain('BEGIN CERTIFICATE');
      fs.writeFileSync(path.join(dir, 'bad.json'), '{ nope');
      expect(() => loadConfigFile(path.join(dir, 'bad.json'))).toThrow(/not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('neither given: says so', () => {
    expect(() => configFromContext(() => undefined)).toThrow(/adjoin:config \/ adjoin:configFile/);
  });
});
