import { InvalidInput } from '../../../../tasks/lib/errors';
import { parseEc2StateEvent } from '../../../../tasks/lib/validate';
import { goodEvent } from '../../../fakes';


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
