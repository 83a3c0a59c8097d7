/**
 * The `pacing` configuration key (infra/config.ts) and its check in the Lambdas' settings
 * (tasks/lib/settings.ts validateSettings): defaults reach the tasks, 0 turns pacing off, and a bad
 * rate or key is refused naming `pacing.<key>`.
 */
import { toSettings } from '../../infra/config';
import { ConfigurationError } from '../../tasks/lib/errors';
import { DEFAULT_PACING } from '../../tasks/lib/pace';
import { validateSettings } from '../../tasks/lib/settings';
import { problemsOf, sampleConfig } from './helpers';

const RATE = 'must be calls per second from 0 (not paced) to 1000 (your account\'s quota for that API in each Region)';

describe('pacing (infra/config.ts)', () => {
  it('defaults 5 / 10 / 10 per second reach the Lambdas\' settings, which validateSettings accepts', () => {
    const config = sampleConfig();
    expect(config.pacing).toEqual({ sendCommand: 5, getCommandInvocation: 10, describeInstanceInformation: 10 });
    expect(config.pacing).toEqual(DEFAULT_PACING);
    const settings = toSettings(config);
    expect(settings.pacing).toEqual(DEFAULT_PACING);
    expect(settings.pacing).not.toBe(config.pacing);
    expect(validateSettings(JSON.parse(JSON.stringify(settings))).pacing).toEqual(DEFAULT_PACING);
  });

  it('0 (not paced), fractions and 1000 are accepted; keys not given keep their default', () => {
    const config = sampleConfig((c) => {
      c.pacing = { sendCommand: 0, getCommandInvocation: 0.5 };
    });
    expect(toSettings(config).pacing).toEqual({ sendCommand: 0, getCommandInvocation: 0.5, describeInstanceInformation: 10 });
    expect(sampleConfig((c) => { c.pacing = { describeInstanceInformation: 1000 }; }).pacing.describeInstanceInformation).toBe(1000);
  });

  it.each<[string, unknown]>([
    ['negative', -1],
    ['over 1000', 1000.5],
    ['a string', '5'],
    ['not finite', Infinity],
    ['null', null],
  ])('a rate %s is refused, naming pacing.<key>', (_, rate) => {
    expect(problemsOf((c) => { c.pacing = { sendCommand: rate } as never; })).toEqual([`pacing.sendCommand: ${RATE}`]);
  });

  it('every bad key is named at once; an unknown key (a typo) is refused', () => {
    const problems = problemsOf((c) => {
      c.pacing = { sendcommand: 5, getCommandInvocation: -2, describeInstanceInformation: 'fast' } as never;
    });
    expect(problems.sort()).toEqual([
      `pacing.describeInstanceInformation: ${RATE}`,
      `pacing.getCommandInvocation: ${RATE}`,
      'pacing.sendcommand: unknown key',
    ]);
  });

  it('pacing that is not an object is refused', () => {
    expect(problemsOf((c) => { c.pacing = 5 as never; })).toEqual(['pacing: must be an object']);
    expect(problemsOf((c) => { c.pacing = [5] as never; })).toEqual(['pacing: must be an object']);
  });
});

describe('pacing in the Lambdas\' settings (tasks/lib/settings.ts validateSettings)', () => {
  const settingsWith = (pacing: unknown): Record<string, unknown> => ({ ...(toSettings(sampleConfig()) as unknown as Record<string, unknown>), pacing });
  const problems = (pacing: unknown): string[] => {
    try {
      validateSettings(JSON.parse(JSON.stringify(settingsWith(pacing))));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      return (err as ConfigurationError).problems;
    }
    throw new Error('expected a ConfigurationError');
  };

  it('absent (not paced) or partial is accepted', () => {
    const without = settingsWith(undefined);
    delete without.pacing;
    expect(validateSettings(without).pacing).toBeUndefined();
    expect(validateSettings(settingsWith({ sendCommand: 0 })).pacing).toEqual({ sendCommand: 0 });
  });

  it('refuses a bad rate, an unknown key and a non-object, naming pacing.<key>', () => {
    expect(problems({ sendCommand: -1, getCommandInvocation: '10', describeInstanceInformation: 1001, burst: 3 })).toEqual([
      'pacing.sendCommand: must be calls per second from 0 (not paced) to 1000',
      'pacing.getCommandInvocation: must be calls per second from 0 (not paced) to 1000',
      'pacing.describeInstanceInformation: must be calls per second from 0 (not paced) to 1000',
      'pacing.burst: unknown (sendCommand, getCommandInvocation, describeInstanceInformation)',
    ]);
    expect(problems(5)).toEqual(['pacing: must be an object of calls per second (sendCommand, getCommandInvocation, describeInstanceInformation)']);
    expect(problems([1, 2])).toEqual(['pacing: must be an object of calls per second (sendCommand, getCommandInvocation, describeInstanceInformation)']);
  });
});
