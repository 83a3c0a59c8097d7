import { InvalidInput } from '../../../../tasks/lib/errors';
import {
  EXECUTION_NAME,
  parseCheckCommandInput,
  parseCompensationInput,
  parseComputer,
  parseEc2StateEvent,
  parseInstance,
  parsePrevious,
  parseRecordResultInput,
  parseRunCommandInput,
} from '../../../../tasks/lib/validate';
import { goodEvent, NOW, prepared, proceed } from '../../../fakes';

const previous = { commandId: 'c-1', document: 'join', redriveCount: 0, state: 'failed', status: 'Failed', exitCode: 3, output: 'x' };

describe('payload parsers', () => {
  it.each(['exec-1', 'join-i-0123456789abcdef0-20261121T100000Z-ab12', '3f2a9c1e-8d1b-4e8e-9a5f-0c1d2e3f4a5b', 'a.b+c=d@e', 'ünïcødé'])('accepts execution name %p', (n) => {
    expect(EXECUTION_NAME.test(n)).toBe(true);
  });

  it.each(['', 'a b', 'a:b', 'a/b', 'a$b', 'a;b', 'a,b', 'a\nb', 'x'.repeat(81), 'a*b', 'a{b}'])('refuses execution name %p', (n) => {
    expect(EXECUTION_NAME.test(n)).toBe(false);
  });

  it('reads $.instance and $.computer', () => {
    // Prepare / Act / Assess
    expect(parseInstance(proceed)).toEqual(proceed);
    expect(parseComputer(prepared)).toEqual(prepared);
  });

  it.each([
    ['instanceId', { ...proceed, instanceId: 'i-x' }],
    ['account', { ...proceed, account: '12' }],
    ['outcome', { ...proceed, outcome: 'maybe' }],
    ['loginGroups', { ...proceed, loginGroups: 'a' }],
  ])('refuses a bad instance.%s', (field, v) => {
    expect(() => parseInstance(v)).toThrow(new RegExp(`instance\\.${field}`));
  });

  it('refuses a bad computer name or secret name', () => {
    // Prepare / Act / Assess
    expect(() => parseComputer({ ...prepared, name: 'ABCDEFGHIJKLMNOP' })).toThrow(InvalidInput);
    expect(() => parseComputer({ ...prepared, secretName: 'no-slash' })).toThrow(InvalidInput);
  });

  it.each([undefined, null, {}])('reads previous %p as none', (p) => {
    expect(parsePrevious(p)).toBeUndefined();
  });

  it('reads a previous command', () => {
    // Prepare / Act / Assess
    expect(parsePrevious(previous)).toEqual(previous);
    expect(() => parsePrevious({ ...previous, state: 'odd' })).toThrow(/previous\.state/);
  });

  it('reads a Run join document payload, previous optional, redriveCount defaulting to 0', () => {
    // Prepare
    const out = parseRunCommandInput({ instance: proceed, computer: prepared, previous: {}, executionName: 'exec-1' });
    // Act / Assess
    expect(out).toEqual({ instance: proceed, computer: prepared, redriveCount: 0, executionName: 'exec-1' });
    expect(parseRunCommandInput({ instance: proceed, computer: prepared, previous, redriveCount: 2, executionName: 'e' }).previous).toEqual(previous);
    expect(() => parseRunCommandInput({ instance: proceed, computer: prepared, redriveCount: -1, executionName: 'e' })).toThrow(/redriveCount/);
  });

  it('reads a Check command payload', () => {
    // Prepare
    const command = { commandId: 'c-1', document: 'verify', sentAt: NOW.toISOString(), redriveCount: 0 };
    // Act / Assess
    expect(parseCheckCommandInput({ instance: proceed, command })).toEqual({
      instance: { instanceId: proceed.instanceId, account: proceed.account, region: proceed.region },
      command,
    });
    expect(() => parseCheckCommandInput({ instance: proceed, command: { ...command, sentAt: 'yesterday' } })).toThrow(/sentAt/);
  });

  it('reads Record result and compensation payloads', () => {
    // Prepare / Act / Assess
    expect(parseRecordResultInput({ instance: proceed, computer: prepared, executionName: 'e' }).computer).toEqual(prepared);
    expect(parseCompensationInput({ instance: proceed, error: { Error: 'InstanceGone', Cause: 'gone', extra: 1 } })).toEqual({
      instance: { instanceId: proceed.instanceId, account: proceed.account, region: proceed.region },
      error: { Error: 'InstanceGone', Cause: 'gone' },
    });
    expect(parseCompensationInput({ instance: proceed }).error).toBeUndefined();
    expect(() => parseCompensationInput({})).toThrow(/instance: must be an object/);
  });
});

describe('parseEc2StateEvent', () => {
  it('accepts a state-change event', () => {
    expect(parseEc2StateEvent(goodEvent)).toEqual(goodEvent);
  });

  it.each([
    ['source', { ...goodEvent, source: 'aws.s3' }, /source/],
    ['detail-type', { ...goodEvent, 'detail-type': 'Tag Change' }, /detail-type/],
    ['account', { ...goodEvent, account: '1234' }, /account/],
    ['region', { ...goodEvent, region: 'eu-west-1; rm -rf /' }, /region/],
    ['instance-id', { ...goodEvent, detail: { 'instance-id': 'i-*)(cn=*', state: 'running' } }, /instance-id/],
    ['state', { ...goodEvent, detail: { 'instance-id': 'i-0123456789abcdef0', state: 'exploded' } }, /state/],
    ['detail', { ...goodEvent, detail: undefined }, /detail/],
  ])('refuses a bad %s with InvalidInput naming it', (_field, event, re) => {
    expect(() => parseEc2StateEvent(event)).toThrow(InvalidInput);
    expect(() => parseEc2StateEvent(event)).toThrow(re);
  });

  it.each([null, 'text', [], 7])('refuses %p', (raw) => {
    expect(() => parseEc2StateEvent(raw)).toThrow(InvalidInput);
  });
});
