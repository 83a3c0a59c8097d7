import { commandDocument, parseParams, readScript } from '../../infra/documents';
import { ConfigurationError } from '../../tasks/lib/errors';
import { attemptsForDeadline } from '../../workflows/common';

describe('SSM documents from scripts', () => {
  it('reads "# param: Name | description | default" header lines', () => {
    const params = parseParams([
      '#!/bin/bash',
      '# param: Domain | DNS domain to join',
      '# param: LoginGroups | Groups allowed to log in |',
      '# param: IdMapping | sid or rfc2307 | sid | ^(sid|rfc2307)$',
      'echo "# param: NotAHeader | inside a string"',
    ].join('\n'));
    expect(params).toEqual({
      Domain: { type: 'String', description: 'DNS domain to join', interpolationType: 'ENV_VAR' },
      LoginGroups: { type: 'String', description: 'Groups allowed to log in', default: '', interpolationType: 'ENV_VAR' },
      IdMapping: { type: 'String', description: 'sid or rfc2307', default: 'sid', allowedPattern: '^(sid|rfc2307)$', interpolationType: 'ENV_VAR' },
    });
  });

  it('refuses a bad or repeated parameter name', () => {
    expect(() => parseParams('# param: bad-name | x')).toThrow(ConfigurationError);
    expect(() => parseParams('# param: A | x\n# param: A | y')).toThrow(/declared twice/);
  });

  it('builds a schema 2.2 runShellScript document for Linux', () => {
    const doc = commandDocument('#!/bin/bash\n# param: A | a\necho hi', { name: 'join', description: 'd', timeoutSeconds: 600 });
    expect(doc).toMatchObject({
      schemaVersion: '2.2',
      parameters: { A: { type: 'String' } },
      mainSteps: [{ action: 'aws:runShellScript', name: 'join', precondition: { StringEquals: ['platformType', 'Linux'] }, inputs: { runCommand: ['#!/bin/bash', '# param: A | a', 'echo hi'], timeoutSeconds: '600' } }],
    });
  });

  it('the shipped join and verify scripts declare parameters', () => {
    expect(Object.keys(parseParams(readScript('join.sh'))).length).toBeGreaterThan(0);
    expect(Object.keys(parseParams(readScript('verify.sh'))).length).toBeGreaterThan(0);
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
