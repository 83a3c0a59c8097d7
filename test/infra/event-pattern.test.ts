import { matches } from './event-pattern';

describe('the test EventBridge pattern matcher', () => {
  const event = { source: 'aws.tag', detail: { keys: ['a', 'b'], tags: { a: 'True' }, n: 3 } };

  it('matches exact values, and any element of an array field', () => {
    // Act / Assess
    expect(matches({ source: ['aws.tag', 'x'] }, event)).toBe(true);
    expect(matches({ source: ['aws.ec2'] }, event)).toBe(false);
    expect(matches({ detail: { keys: ['b'] } }, event)).toBe(true);
    expect(matches({ detail: { keys: ['c'] } }, event)).toBe(false);
    expect(matches({ detail: { n: [3] } }, event)).toBe(true);
  });

  it('knows equals-ignore-case, prefix, anything-but and exists', () => {
    // Act / Assess
    expect(matches({ detail: { tags: { a: [{ 'equals-ignore-case': 'true' }] } } }, event)).toBe(true);
    expect(matches({ detail: { tags: { a: [{ 'equals-ignore-case': 'false' }] } } }, event)).toBe(false);
    expect(matches({ detail: { keys: [{ prefix: 'a' }] } }, event)).toBe(true);
    expect(matches({ source: [{ 'anything-but': ['aws.tag'] }] }, event)).toBe(false);
    expect(matches({ detail: { gone: [{ exists: false }] } }, event)).toBe(true);
    expect(matches({ detail: { gone: [{ exists: true }] } }, event)).toBe(false);
  });

  it('needs a missing object field to be present, and every key to match ($or: any branch)', () => {
    // Act / Assess
    expect(matches({ other: { x: ['y'] } }, event)).toBe(false);
    expect(matches({ detail: { $or: [{ keys: ['z'] }, { n: [3] }] } }, event)).toBe(true);
    expect(matches({ detail: { $or: [{ keys: ['z'] }, { n: [4] }] } }, event)).toBe(false);
  });

  it('refuses operators it does not know, loudly', () => {
    // Act / Assess
    expect(() => matches({ detail: { n: [{ numeric: ['>', 1] }] } }, event)).toThrow(/unsupported operator numeric/);
  });
});
