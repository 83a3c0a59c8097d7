import { InvalidInput } from '../../../../tasks/lib/errors';
import { formatMarker, markerDescription, parseMarker, sameMarker } from '../../../../tasks/lib/marker';

const m = { account: '123456789012', region: 'eu-west-1', instanceId: 'i-0123456789abcdef0' };

describe('marker', () => {
  it('formats and parses back', () => {
    // Act
    const text = formatMarker(m);
    // Assess
    expect(text).toBe('adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef0');
    expect(parseMarker(text)).toEqual(m);
  });

  it.each(['us-gov-west-1', 'cn-north-1', 'ap-southeast-4', 'eu-central-2'])('accepts Region %p', (region) => {
    expect(parseMarker(formatMarker({ ...m, region }))).toEqual({ ...m, region });
  });

  it('accepts legacy 8-hex instance IDs', () => {
    expect(parseMarker('adjoin:v1:123456789012:us-east-1:i-0123abcd')).toEqual({ account: '123456789012', region: 'us-east-1', instanceId: 'i-0123abcd' });
  });

  it.each([
    undefined,
    null,
    42,
    '',
    'adjoin:v1:123456789012:eu-west-1',
    'adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef0:extra',
    'adjoin:v2:123456789012:eu-west-1:i-0123456789abcdef0',
    'ADJOIN:v1:123456789012:eu-west-1:i-0123456789abcdef0',
    'adjoin:v1:12345678901:eu-west-1:i-0123456789abcdef0',
    'adjoin:v1:123456789012:EU-WEST-1:i-0123456789abcdef0',
    'adjoin:v1:123456789012:eu-west-1:i-0123456789ABCDEF0',
    'adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef',
    ' adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef0',
    'adjoin:v1:123456789012:eu-west-1:i-0123456789abcdef0\n',
    'i-0123456789abcdef0',
  ])('parses %p as not ours', (text) => {
    expect(parseMarker(text)).toBeUndefined();
  });

  it('refuses to format an invalid marker', () => {
    expect(() => formatMarker({ ...m, account: '1' })).toThrow(InvalidInput);
  });

  it('compares markers field by field', () => {
    expect(sameMarker(m, { ...m })).toBe(true);
    expect(sameMarker(m, { ...m, region: 'eu-west-2' })).toBe(false);
    expect(sameMarker(m, undefined)).toBe(false);
  });

  it('describes the owner for humans', () => {
    expect(markerDescription(m)).toBe('adjoin: EC2 i-0123456789abcdef0 in 123456789012/eu-west-1');
  });
});
