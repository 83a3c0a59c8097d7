import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configFromContext, loadConfigFile, resolveConfig, toSettings, type AdjoinConfigInput } from '../../infra/config';
import { ConfigurationError } from '../../tasks/lib/errors';
import { validateSettings } from '../../tasks/lib/settings';
import { InfraDir, problemsOf, sampleConfig, sampleInput } from './helpers';


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
    expect(settings.memberRoleName).toBeUndefined(); // the sample deploys in one account: no member role
    expect(toSettings(sampleConfig((c) => { c.memberAccounts = ['222222222222']; })).memberRoleName).toBe('adjoin-member');
    expect(settings.directory.bindSecretId).toMatch(/^arn:aws:secretsmanager:/);
    expect(JSON.stringify(settings).length).toBeLessThan(3000); // Lambda environment is limited to 4 KB
  });

  it('reads the CA bundle at synth', () => {
    expect(sampleConfig().directory.caPem).toContain('-----BEGIN CERTIFICATE-----');
  });
});

describe('defaults of each directory kind', () => {
  it('aws-managed: computers in a dedicated OU=adjoin under OU=Computers,OU=<NetBIOS>, LDAPS URLs from the DC host names, probe user Admin', () => {
    const c = resolveConfig(minimal('aws-managed'), { baseDir: InfraDir });
    expect(c.directory.domain).toBe('corp.example.com');
    expect(c.directory.netbiosName).toBe('CORP');
    expect(c.directory.baseDn).toBe('DC=corp,DC=example,DC=com');
    expect(c.directory.computerOu).toBe('OU=adjoin,OU=Computers,OU=CORP,DC=corp,DC=example,DC=com');
    expect(c.directory.managedOus).toEqual([c.directory.computerOu]);
    expect(c.directory.ldapUrls).toEqual(['ldaps://dc1.corp.example.com:636']);
    expect(c.directory.probeUsers).toEqual(['Admin']);
    expect(c.directory.insecure).toBe(false);
  });

  it('entra-ds: computers in a dedicated custom OU at the domain root (never the shared AADDC Computers), and LDAPS cannot be turned off', () => {
    const c = resolveConfig(minimal('entra-ds'), { baseDir: InfraDir });
    expect(c.directory.computerOu).toBe('OU=adjoin,DC=corp,DC=example,DC=com');
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

  it('refuses an OU that is not a strict DN (shell or LDAP injection), naming the key', () => {
    const hostile = [
      "OU=x'$(touch /tmp/p)',DC=corp,DC=example,DC=com",
      'OU=x`id`,DC=corp,DC=example,DC=com',
      'OU=x;reboot,DC=corp,DC=example,DC=com',
      'OU=x"y,DC=corp,DC=example,DC=com',
      'OU=x\nCN=y,DC=corp,DC=example,DC=com',
      'OU=x\u0000,DC=corp,DC=example,DC=com',
      'OU=x$HOME,DC=corp,DC=example,DC=com',
      'OU=,DC=corp,DC=example,DC=com',
      'CN=Computers,DC=corp,DC=example,DC=com',
      'OU=a\\q,DC=corp,DC=example,DC=com', // not an AD escape
    ];
    for (const ou of hostile) {
      expect(problemsOf((c) => { c.directory.computerOu = ou; c.directory.managedOus = [ou]; })).toEqual(expect.arrayContaining([
        expect.stringMatching(/^directory\.computerOu: .* is not valid \(an OU DN/),
        expect.stringMatching(/^directory\.managedOus: .* not valid \(an OU DN/),
      ]));
    }
    // AD's escapes are accepted: an escaped comma, an escaped quote, a hex escape.
    for (const ou of ['OU=Linux\\, Servers,DC=corp,DC=example,DC=com', 'OU=a\\"b,DC=corp,DC=example,DC=com', 'OU=a\\24b,DC=corp,DC=example,DC=com']) {
      const input = sampleInput();
      input.directory.computerOu = ou;
      input.directory.managedOus = [ou];
      expect(resolveConfig(input, { baseDir: InfraDir }).directory.computerOu).toBe(ou);
    }
  });

  it('needs the orchestrator account when member accounts are given', () => {
    expect(problemsOf((c) => { delete c.env; c.memberAccounts = ['222222222222']; })).toEqual([expect.stringMatching(/^env.account: is required when memberAccounts/)]);
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

describe('the broken configurations of a first deploy are refused at synth, naming the key and the fix', () => {
  it('a Unix 5-field cron: six fields are needed, and the fix is shown', () => {
    const [problem] = problemsOf((c) => { c.reconcile = { schedule: 'cron(0 3 * * *)' }; });
    expect(problem).toMatch(/^reconcile\.schedule: "cron\(0 3 \* \* \*\)" has 5 fields; .*six: minutes hours day-of-month month day-of-week year/);
    expect(problem).toContain('cron(0 3 * * ? *)');
  });

  it.each([
    ['rate(1 hours)', /needs "hour".*rate\(1 hour\)/],
    ['rate(6 hour)', /needs "hours".*rate\(6 hours\)/],
    ['rate(0 minutes)', /not a rate/],
    ['rate(2 weeks)', /not a rate/],
    ['cron(0 3 * * MON *)', /exactly one of day-of-month and day-of-week must be "\?"/],
    ['cron(0 3 ? * ? *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 25 * * ? *)', /hours "25" not valid/],
    ['at(2027-02-30T03:00:00)', /not a real date/],
    ['every day', /not an EventBridge Scheduler expression/],
  ])('schedule %s is refused', (schedule, why) => {
    expect(problemsOf((c) => { c.reconcile = { schedule }; })).toEqual([expect.stringMatching(why)]);
  });

  it.each(['rate(1 minute)', 'rate(5 minutes)', 'rate(1 day)', 'rate(6 hours)', 'cron(0 3 * * ? *)', 'cron(0/15 8-18 ? * MON-FRI *)', 'cron(0 12 L * ? 2027)', 'at(2027-01-31T03:00:00)'])(
    'schedule %s is accepted (and reaches the template as written)',
    (schedule) => {
      const config = sampleConfig((c) => { c.reconcile = { schedule }; });
      expect(config.reconcile.schedule).toBe(schedule);
    },
  );

  it('"Domain:Join = true": spaces around "=" are refused (IAM compares tags exactly), with the corrected tag', () => {
    expect(problemsOf((c) => { c.tags = { optIn: 'Domain:Join = true' }; })).toEqual([
      expect.stringMatching(/^tags\.optIn: "Domain:Join = true": spaces at the start or end of the key or value .* e\.g\. "Domain:Join=true"$/),
    ]);
    expect(problemsOf((c) => { c.tags = { optOut: ' autoadjoin=false' }; })).toEqual([expect.stringMatching(/^tags\.optOut: /)]);
    expect(problemsOf((c) => { c.tags = { optIn: 'Domain:Join=' }; })).toEqual([expect.stringMatching(/^tags\.optIn: .*value must be 1 to 256/)]);
    expect(problemsOf((c) => { c.tags = { optIn: 'aws:join=true' }; })).toEqual([expect.stringMatching(/reserved by AWS/)]);
    expect(problemsOf((c) => { c.tags = { optIn: 'join!=yes' }; })).toEqual([expect.stringMatching(/only letters, digits, spaces/)]);
  });

  it('tags are kept exactly (case included): what IAM StringEquals and the tasks compare', () => {
    const config = sampleConfig((c) => { c.tags = { optIn: 'Domain:Join=True', optOut: 'team=a=b' }; });
    expect(config.tags.optIn).toEqual({ key: 'Domain:Join', value: 'True' });
    expect(config.tags.optOut).toEqual({ key: 'team', value: 'a=b' });
  });

  it('"Linux Admins (prod)" is accepted (spaces and parentheses reach SSSD, measured in the lab); "Admins, prod" or "ops/dev" are refused with the reason and the allowed set', () => {
    expect(sampleConfig((c) => { c.directory.loginGroups = ['Linux Admins', 'Linux Admins (prod)']; }).directory.loginGroups).toEqual(['Linux Admins', 'Linux Admins (prod)']);
    const [problem] = problemsOf((c) => { c.directory.loginGroups = ['Linux Admins', 'ops/dev;x']; });
    expect(problem).toMatch(/^directory\.loginGroups: "ops\/dev;x" cannot be passed to the join document \(it holds "\/" ";"\): .*A-Z a-z 0-9, space, _ \. \( \) -/);
  });

  it('a non-ASCII group name is refused the same way', () => {
    expect(problemsOf((c) => { c.directory.loginGroups = ['Développeurs'] as string[]; })).toEqual([
      expect.stringMatching(/^directory\.loginGroups: "Développeurs" cannot be passed to the join document \(it holds "é"\)/),
    ]);
  });

  it('what synth accepts, the join document accepts: the config rule is the script\'s check and within the parameter pattern', () => {
    const script = fs.readFileSync(path.join(InfraDir, 'documents', 'join.sh'), 'utf8');
    expect(script).toContain("check LoginGroups \"$LOGIN_GROUPS\" '^(-|[A-Za-z0-9 _.()-]{1,64}(,[A-Za-z0-9 _.()-]{1,64})*)$'");
    expect(script).toMatch(/# param: LoginGroups \|.*\| \^\[A-Za-z0-9 _\.,\(\)-\]\{0,1024\}\$/);
    // The verify and Windows documents carry the same names.
    for (const doc of ['verify.sh', 'join-windows.ps1'])
      expect(fs.readFileSync(path.join(InfraDir, 'documents', doc), 'utf8')).toMatch(/# param: LoginGroups \|.*\| \^\[A-Za-z0-9 _\.,\(\)-\]\{0,1024\}\$/);
    expect(sampleConfig((c) => { c.directory.loginGroups = ['Linux Admins', 'web-ops_2.prod']; }).directory.loginGroups).toHaveLength(2);
  });

  it('ldaps://10.0.1.25 without tlsServerName is refused, naming the key', () => {
    const [problem] = problemsOf((c) => { c.directory.ldapUrls = ['ldaps://10.0.1.25']; });
    expect(problem).toMatch(/^directory\.tlsServerName: is required when directory\.ldapUrls hold IP addresses \(ldaps:\/\/10\.0\.1\.25\)/);
    const ok = sampleConfig((c) => { c.directory.ldapUrls = ['ldaps://10.0.1.25:636']; c.directory.tlsServerName = 'dc1.corp.example.com'; });
    expect(toSettings(ok).directory).toMatchObject({ ldapUrls: ['ldaps://10.0.1.25:636'], tlsServerName: 'dc1.corp.example.com' });
  });

  it('AWS Managed AD: directoryId without domainControllers reads the DCs at run time; the TLS name must be given', () => {
    // Pinned DCs and an ID: no look-up (dcIps from the pins).
    const pinned = sampleConfig((c) => { c.directory.directoryId = 'd-1234567890'; });
    expect(toSettings(pinned).directory).toMatchObject({ directoryId: 'd-1234567890', dcIps: ['10.0.1.10', '10.0.2.10'] });
    // Only the ID: no DCs at synth, no LDAPS URLs; the name on the certificates is required.
    const refused = problemsOf((c) => { c.directory.directoryId = 'd-1234567890'; delete c.directory.domainControllers; });
    expect(refused).toEqual([expect.stringMatching(/^directory\.tlsServerName: is required with directory\.directoryId and no domainControllers: .*no API returns the names on the DC certificates.*corp\.example\.com.*adjoin directory-info/)]);
    const byId = sampleConfig((c) => { c.directory.directoryId = 'd-1234567890'; c.directory.domainControllers = []; c.directory.tlsServerName = 'corp.example.com'; });
    expect(toSettings(byId).directory).toMatchObject({ directoryId: 'd-1234567890', dcIps: [], ldapUrls: [], tlsServerName: 'corp.example.com' });
    // Own LDAPS URLs by host name: no tlsServerName needed, the DC IPs still come from the look-up.
    const byUrl = sampleConfig((c) => { c.directory.directoryId = 'd-1234567890'; delete c.directory.domainControllers; c.directory.ldapUrls = ['ldaps://corp.example.com:636']; });
    expect(toSettings(byUrl).directory).toMatchObject({ dcIps: [], ldapUrls: ['ldaps://corp.example.com:636'] });
    // Without an ID the DCs stay required, and the error says how to get them.
    const [problem] = problemsOf((c) => { c.directory.domainControllers = []; });
    expect(problem).toMatch(/^directory\.domainControllers: must list at least one \{hostName, ip\}; for AWS Managed Microsoft AD: set directory\.directoryId instead.*adjoin directory-info --directory-id/);
    expect(problemsOf((c) => { c.directory.directoryId = 'd-123'; })).toEqual([expect.stringMatching(/^directory\.directoryId: /)]);
    expect(problemsOf((c) => { c.directory.kind = 'self-managed'; c.directory.computerOu = 'OU=adjoin,DC=corp,DC=example,DC=com'; c.directory.directoryId = 'd-1234567890'; delete c.directory.domainControllers; c.directory.tlsServerName = 'corp.example.com'; }))
      .toContain('directory.directoryId: is only for kind aws-managed');
  });

  it('network.createEndpoints is a boolean, default false', () => {
    expect(sampleConfig().network.createEndpoints).toBe(false);
    expect(sampleConfig((c) => { c.network.createEndpoints = true; c.network.routeTableIds = ['rtb-0a1b2c3d4e5f60011']; }).network).toMatchObject({ createEndpoints: true, routeTableIds: ['rtb-0a1b2c3d4e5f60011'] });
    expect(problemsOf((c) => { (c.network as Record<string, unknown>).createEndpoints = 'yes'; })).toEqual([expect.stringMatching(/^network\.createEndpoints: /)]);
    // The DynamoDB gateway endpoint needs the subnets' route tables: required with createEndpoints, checked when given.
    expect(problemsOf((c) => { c.network.createEndpoints = true; })).toEqual([expect.stringMatching(/^network\.routeTableIds: .*rtb-/)]);
    expect(problemsOf((c) => { c.network.routeTableIds = ['subnet-0a1b2c3d4e5f60011']; })).toEqual([expect.stringMatching(/^network\.routeTableIds: /)]);
  });

  it('a relative caBundleFile is read relative to the config file, not the working directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-config-'));
    try {
      fs.mkdirSync(path.join(dir, 'certs'));
      fs.copyFileSync(path.join(InfraDir, 'sample-ca.pem'), path.join(dir, 'certs', 'corp-ca.pem'));
      const input = sampleInput();
      input.directory.caBundleFile = 'certs/corp-ca.pem';
      fs.writeFileSync(path.join(dir, 'my-config.json'), JSON.stringify(input));
      expect(loadConfigFile(path.join(dir, 'my-config.json')).directory.caPem).toContain('BEGIN CERTIFICATE');
      expect(() => resolveConfig(input, { baseDir: InfraDir })).toThrow(/directory\.caBundleFile: cannot read .*certs\/corp-ca\.pem/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('linux.* keys (infra/config-admin.ts)', () => {
  it('default to no sudo, no host name change, no dynamic DNS, no SSSD options, rdns left alone', () => {
    expect(resolveConfig(minimal('aws-managed'), { baseDir: InfraDir }).linux).toEqual({ sudoGroups: [], setHostname: false, dynamicDns: false, sssdOptions: {}, krb5Rdns: true });
  });

  it('resolve into Settings.linux, which validateSettings accepts', () => {
    const input = { ...minimal('aws-managed'), linux: { sudoGroups: ['linux admins', ' ops '], setHostname: true, dynamicDns: true, sssdOptions: { default_shell: '/bin/zsh', entry_cache_timeout: 600, use_fully_qualified_names: false }, krb5Rdns: false } };
    const settings = toSettings(resolveConfig(input, { baseDir: InfraDir }));
    expect(settings.linux).toEqual({ sudoGroups: ['linux admins', 'ops'], setHostname: true, dynamicDns: true, sssdOptions: { default_shell: '/bin/zsh', entry_cache_timeout: '600', use_fully_qualified_names: 'false' }, krb5Rdns: false });
    expect(validateSettings(JSON.parse(JSON.stringify(settings)))).toEqual(settings);
  });

  it('name the bad key: unknown keys, group names, booleans, SSSD options outside the allow-list or with bad values', () => {
    const problems = problemsOf((c) => {
      c.linux = { sudoGroups: ['ok', 'bad;name', 'Linux Admins (prod)', 'a*b'], setHostname: 'yes', dynamicDns: 1, sssdOptions: { id_provider: 'files', default_shell: '/bin/sh\n[sssd]', override_homedir: 'x'.repeat(300), fallback_homedir: '' }, sudo: true } as never;
    });
    expect(problems).toEqual(expect.arrayContaining([
      'linux.sudo: unknown key',
      expect.stringMatching(/^linux\.sudoGroups: "bad;name": a sudo group name may hold only/),
      expect.stringMatching(/^linux\.sudoGroups: "a\*b": a sudo group name may hold only A-Z a-z 0-9, space, _ \. \( \) -/),
      'linux.setHostname: must be true or false',
      'linux.dynamicDns: must be true or false',
      expect.stringMatching(/^linux\.sssdOptions\.id_provider: "id_provider" is not an allowed SSSD option \(allowed: ad_gpo_access_control/),
      expect.stringMatching(/^linux\.sssdOptions\.default_shell: default_shell: the value must not hold ; \[ \] or control characters/),
      'linux.sssdOptions.override_homedir: override_homedir: the value is over 256 characters',
      'linux.sssdOptions.fallback_homedir: fallback_homedir: the value is empty',
    ]));
    expect(problems.filter((p) => p.startsWith('linux'))).toHaveLength(9);
    expect(problemsOf((c) => { c.linux = [] as never; })).toEqual(['linux: must be an object']);
  });

  it('validateSettings refuses a bad linux block too', () => {
    const settings = toSettings(sampleConfig()) as unknown as Record<string, unknown>;
    settings.linux = { sudoGroups: ['a,b'], setHostname: false, dynamicDns: false, sssdOptions: { access_provider: 'permit' }, krb5Rdns: 'no' };
    expect(() => validateSettings(settings)).toThrow(/linux\.sudoGroups: must be a list.*[\s\S]*linux\.krb5Rdns: must be true or false[\s\S]*linux\.sssdOptions: "access_provider" is not an allowed/);
  });
});
