import { commandDocument, joinScript, parseParams, readScript } from '../../infra/documents';
import { sampleConfig } from './helpers';
import { toSettings } from '../../infra/config';
import { joinParameters, verifyParameters } from '../../tasks/lib/commands';
import { STRICT_DN_PATTERN } from '../../tasks/lib/dn';
import { ConfigurationError } from '../../tasks/lib/errors';
import { joinSecretName } from '../../tasks/lib/naming';
import { prepared, proceed, testSettings } from '../fakes';
import { attemptsForDeadline } from '../../workflows/common';

describe('SSM documents from scripts', () => {
  it('reads "# param: Name | description | default or (required) | pattern" header lines', () => {
    const params = parseParams([
      '#!/bin/bash',
      '# param: Domain | DNS domain to join | (required) | ^[a-z.]+$',
      '# param: LoginGroups | Groups allowed to log in | | ^[A-Za-z ,]{0,64}$',
      '# param: IdMapping | sid or rfc2307 | sid | ^(sid|rfc2307)$',
      'echo "# param: NotAHeader | inside a string"',
    ].join('\n'));
    expect(params).toEqual({
      Domain: { type: 'String', description: 'DNS domain to join', allowedPattern: '^[a-z.]+$', interpolationType: 'ENV_VAR' },
      LoginGroups: { type: 'String', description: 'Groups allowed to log in', default: '', allowedPattern: '^[A-Za-z ,]{0,64}$', interpolationType: 'ENV_VAR' },
      IdMapping: { type: 'String', description: 'sid or rfc2307', default: 'sid', allowedPattern: '^(sid|rfc2307)$', interpolationType: 'ENV_VAR' },
    });
  });

  it('refuses a parameter without an allowed pattern, an unanchored one, and a default its pattern refuses', () => {
    expect(() => parseParams('# param: Domain | DNS domain')).toThrow(ConfigurationError);
    expect(() => parseParams('# param: Domain | DNS domain | (required)')).toThrow(/Domain has no allowed pattern/);
    expect(() => parseParams('# param: Domain | DNS domain | x |  ')).toThrow(/Domain has no allowed pattern/);
    expect(() => parseParams('# param: Domain | DNS domain | (required) | [a-z]+')).toThrow(/must be anchored/);
    expect(() => parseParams('# param: Mode | m | other | ^(sid|rfc2307)$')).toThrow(/default "other" does not match/);
    expect(() => commandDocument('#!/bin/bash\n# param: A | a\necho hi', { name: 'join', description: 'd', timeoutSeconds: 600 })).toThrow(/A has no allowed pattern/);
  });

  it('refuses a bad or repeated parameter name', () => {
    expect(() => parseParams('# param: bad-name | x')).toThrow(ConfigurationError);
    expect(() => parseParams('# param: A | x | a | ^a$\n# param: A | y | a | ^a$')).toThrow(/declared twice/);
  });

  it('builds a schema 2.2 runShellScript document for Linux', () => {
    const doc = commandDocument('#!/bin/bash\n# param: A | a | (required) | ^a$\necho hi', { name: 'join', description: 'd', timeoutSeconds: 600 });
    expect(doc).toMatchObject({
      schemaVersion: '2.2',
      parameters: { A: { type: 'String', allowedPattern: '^a$', interpolationType: 'ENV_VAR' } },
      mainSteps: [{ action: 'aws:runShellScript', name: 'join', precondition: { StringEquals: ['platformType', 'Linux'] }, inputs: { runCommand: ['#!/bin/bash', '# param: A | a | (required) | ^a$', 'echo hi'], timeoutSeconds: '600' } }],
    });
  });

  it('the shipped join and verify scripts declare parameters', () => {
    expect(Object.keys(parseParams(readScript('join.sh'))).length).toBeGreaterThan(0);
    expect(Object.keys(parseParams(readScript('verify.sh'))).length).toBeGreaterThan(0);
  });

  it('the shipped scripts never paste a parameter into their text: no {{Name}} outside the header', () => {
    for (const file of ['join.sh', 'verify.sh']) {
      const body = readScript(file).split('\n').filter((l) => !/^#\s*param:/.test(l.trim()));
      const names = Object.keys(parseParams(readScript(file)));
      for (const name of names) expect(body.filter((l) => l.includes(`{{${name}}}`))).toEqual([]);
      expect(body.join('\n')).not.toMatch(/param_value/);
    }
  });
});

describe('the shipped allowed patterns (what SSM checks before a value reaches the instance)', () => {
  // The join document is join.sh with verify.sh appended (joinScript): its parameters are the union.
  const join = parseParams(joinScript());
  const verify = parseParams(readScript('verify.sh'));
  const matches = (params: typeof join, name: string, value: string): boolean => {
    const p = params[name];
    if (!p) throw new Error(`no parameter ${name}`);
    return new RegExp(p.allowedPattern).test(value);
  };
  // Values the tasks really produce, from the sample deployment's settings and the unit fixtures.
  const settingsList = [toSettings(sampleConfig()), testSettings()];
  const goodComputer = { ...prepared, secretName: joinSecretName('i-0123456789abcdef0', '/adjoin-prod/otp/') };
  const groupsList = [[], ['Linux Admins'], ['linux-admins', 'db_ops.team']];

  it('accept every value joinParameters and verifyParameters produce', () => {
    for (const settings of settingsList) {
      for (const loginGroups of groupsList) {
        const instance = { ...proceed, loginGroups };
        for (const [name, value] of Object.entries(joinParameters(settings, instance, goodComputer))) expect([name, matches(join, name, value)]).toEqual([name, true]);
        for (const [name, value] of Object.entries(verifyParameters(settings, instance))) expect([name, matches(verify, name, value)]).toEqual([name, true]);
      }
    }
    // Every declared parameter without a default is produced by the tasks.
    const produced = Object.keys(joinParameters(settingsList[0]!, proceed, goodComputer));
    for (const [name, p] of Object.entries(join)) if (p.default === undefined) expect(produced).toContain(name);
  });

  it('refuse hostile values for every parameter', () => {
    const shell = ["x'$(touch /tmp/p)'", 'x`id`', 'x;reboot', 'x\nreboot', 'x$(id)', 'x|id', 'x&&id', '"x"', 'x\u0000', '{{ssm:/other/param}}'];
    for (const [params, names] of [[join, Object.keys(join)], [verify, Object.keys(verify)]] as const) {
      for (const name of names) for (const v of shell) expect([name, v, matches(params, name, v)]).toEqual([name, v, false]);
    }
    expect(matches(join, 'OneTimePassword', 'P4ssw0rd-plain-text')).toBe(false); // only a reference, never a value
    expect(matches(join, 'OneTimePassword', '{{ssm-secure:/adjoin/otp/i-1}}x')).toBe(false);
    expect(matches(join, 'OneTimePassword', '{{ssm:/adjoin/otp/i-1}}')).toBe(false);
    expect(matches(join, 'ComputerOu', "OU=x'$(touch /tmp/p)',DC=corp,DC=example,DC=com")).toBe(false);
    expect(matches(join, 'ComputerOu', 'OU=a\\q,DC=corp')).toBe(false);
    expect(matches(join, 'ComputerOu', 'OU=a\\,b,DC=corp')).toBe(true); // an AD escape
    expect(matches(join, 'DomainControllers', '10.0.0.1,10.0.0.2 10.0.0.3')).toBe(true);
    expect(matches(join, 'DomainControllers', '10.0.0.1,evil.example.com')).toBe(false);
    expect(matches(join, 'ComputerName', 'EC2-0123456789AB')).toBe(false); // 16 characters
  });

  it('ComputerOu uses the same strict DN pattern as the configuration', () => {
    expect(join.ComputerOu?.allowedPattern).toBe(STRICT_DN_PATTERN);
  });
});

describe('attemptsForDeadline', () => {
  it('counts retries until the waits add up to the deadline', () => {
    // 10, 15, 22.5, 33.75, 50.6, 60, 60, ... → 611.9 s after 13 retries
    expect(attemptsForDeadline(10, 1.5, 60, 600)).toBe(13);
    expect(attemptsForDeadline(10, 1, 60, 100)).toBe(10);
    expect(attemptsForDeadline(10, 2, 60, 10)).toBe(1);
    expect(attemptsForDeadline(5, 2, 60, 0)).toBe(1);
  });

  it('refuses parameters that would never reach a deadline', () => {
    expect(() => attemptsForDeadline(0, 2, 60, 100)).toThrow(RangeError);
    expect(() => attemptsForDeadline(10, 0.5, 60, 100)).toThrow(RangeError);
  });
});
