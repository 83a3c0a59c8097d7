import { InvalidInput } from '../../../../tasks/lib/errors';
import {
  EXECUTION_NAME,
  parseCleanupInput,
  parseCompensationInput,
  parseComputer,
  parseEc2StateEvent,
  parseInstance,
  parseRecordResultInput,
  parseRunJoinInput,
} from '../../../../tasks/lib/validate';
import { goodEvent, prepared, proceed } from '../../../fakes';


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

  it('reads a Run join document payload, redriveCount defaulting to 0', () => {
    // Prepare
    const out = parseRunJoinInput({ instance: proceed, computer: prepared, executionName: 'exec-1' });
    // Act / Assess
    expect(out).toEqual({ instance: proceed, computer: prepared, redriveCount: 0, executionName: 'exec-1' });
    expect(parseRunJoinInput({ instance: proceed, computer: prepared, redriveCount: 2, executionName: 'e' }).redriveCount).toBe(2);
    expect(() => parseRunJoinInput({ instance: proceed, computer: prepared, redriveCount: -1, executionName: 'e' })).toThrow(/redriveCount/);
  });

  it('reads the join-cleanup input (a status-change event detail)', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:adjoin-join:exec-1';
    const detail = { executionArn: arn, name: 'exec-1', status: 'FAILED', input: '{}', error: 'JoinCommandFailed', output: null, stateMachineArn: 'x' };
    expect(parseCleanupInput(detail)).toEqual({ executionArn: arn, name: 'exec-1', status: 'FAILED', input: '{}', error: 'JoinCommandFailed' });
    expect(() => parseCleanupInput({ ...detail, status: 'SUCCEEDED' })).toThrow(/status/);
    expect(() => parseCleanupInput({ ...detail, executionArn: 'arn:aws:states:x' })).toThrow(/executionArn/);
  });

  it('reads Record result and compensation payloads', () => {
    // Prepare / Act / Assess
    expect(parseRecordResultInput({ instance: proceed, computer: prepared, join: { commandId: 'cmd-1' }, executionName: 'e' }).computer).toEqual(prepared);
    expect(() => parseRecordResultInput({ instance: proceed, computer: prepared, executionName: 'e' })).toThrow(/input\.join/);
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
