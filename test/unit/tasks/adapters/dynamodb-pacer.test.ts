/**
 * The pacing line on DynamoDB (tasks/adapters/dynamodb-pacer.ts): the exact conditional
 * UpdateItems of a take, what comes back in each case (idle, busy, full, races), the errors; and
 * the adapter against an in-memory item that applies its two condition expressions, take for take
 * the same slots as the rule (nextSlot, lab/sim/pacer.ts).
 */
import { ConditionalCheckFailedException, DynamoDBClient, UpdateItemCommand, type AttributeValue, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SimPacer } from '../../../../lab/sim/pacer';
import { DynamoPacer } from '../../../../tasks/adapters/dynamodb-pacer';
import { AwsRefused, AwsUnavailable, Throttled } from '../../../../tasks/lib/errors';
import { PACE_RETENTION_SECONDS, paceKey } from '../../../../tasks/lib/pace';

const ddb = mockClient(DynamoDBClient);
const KEY = paceKey({ account: '123456789012', region: 'eu-west-1' }, 'sendCommand');
const NOW = 1_800_000_000_000;
const LATEST = NOW + 60_000;
const BUSY = '#end >= :now AND #end <= :latest';
const IDLE = 'attribute_not_exists(pk) OR #end < :now';

beforeEach(() => ddb.reset());

/** The failed condition, with the item DynamoDB returns (ALL_OLD); none when there is no item. */
const conditionFailed = (lineEnd?: number) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(lineEnd !== undefined ? { Item: { pk: { S: KEY }, lineEnd: { N: String(lineEnd) }, ttl: { N: '1' } } } : {}),
  });
const ttlOf = (lineEndMs: number): AttributeValue => ({ N: String(Math.ceil(lineEndMs / 1000) + PACE_RETENTION_SECONDS) });
const sent = (): UpdateItemCommandInput[] => ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
const busyUpdate = (spacing = 200) => ({
  TableName: 'claims-table',
  Key: { pk: { S: KEY } },
  UpdateExpression: 'SET #end = #end + :spacing, #ttl = :ttl',
  ConditionExpression: BUSY,
  ExpressionAttributeNames: { '#end': 'lineEnd', '#ttl': 'ttl' },
  ExpressionAttributeValues: { ':spacing': { N: String(spacing) }, ':now': { N: String(NOW) }, ':latest': { N: String(LATEST) }, ':ttl': ttlOf(LATEST + spacing) },
  ReturnValues: 'UPDATED_OLD',
  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
});
const idleUpdate = (spacing = 200) => ({
  ...busyUpdate(spacing),
  UpdateExpression: 'SET #end = :next, #ttl = :ttl',
  ConditionExpression: IDLE,
  ExpressionAttributeValues: { ':next': { N: String(NOW + spacing) }, ':now': { N: String(NOW) }, ':ttl': ttlOf(NOW + spacing) },
});

describe('DynamoPacer', () => {
  it('first take on a missing item: the busy update fails without an item, the idle update makes the line: slot = now', async () => {
    // Prepare
    ddb.on(UpdateItemCommand, { ConditionExpression: BUSY }).rejects(conditionFailed());
    ddb.on(UpdateItemCommand, { ConditionExpression: IDLE }).resolves({});
    // Act
    const got = await new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST);
    // Assess
    expect(got).toEqual({ slotMs: NOW });
    expect(sent()).toEqual([busyUpdate(), idleUpdate()]);
  });

  it('a busy line: ONE update, the slot is the old end DynamoDB returns', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { lineEnd: { N: String(NOW + 4_000) }, ttl: { N: '1' } } });
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST)).resolves.toEqual({ slotMs: NOW + 4_000 });
    expect(sent()).toEqual([busyUpdate()]);
  });

  it('an idle line whose item is still there (end before now): the idle update, slot = now', async () => {
    ddb.on(UpdateItemCommand, { ConditionExpression: BUSY }).rejects(conditionFailed(NOW - 30_000));
    ddb.on(UpdateItemCommand, { ConditionExpression: IDLE }).resolves({});
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST)).resolves.toEqual({ slotMs: NOW });
    expect(sent().map((i) => i.ConditionExpression)).toEqual([BUSY, IDLE]);
  });

  it('a full line: {full} with where it ends, exactly ONE UpdateItem sent (nothing written)', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(LATEST + 1));
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST)).resolves.toEqual({ full: true, lineEndsMs: LATEST + 1 });
    expect(ddb).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
  });

  it('a latest before now (no BETWEEN with reversed bounds, which DynamoDB refuses): full, where the line ends, nothing written', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(NOW + 500));
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, NOW - 1_000)).resolves.toEqual({ full: true, lineEndsMs: NOW + 500 });
    ddb.reset();
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, NOW - 1_000)).resolves.toEqual({ full: true, lineEndsMs: NOW });
    expect(sent().map((i) => i.ConditionExpression)).toEqual([BUSY]);
    expect(sent()[0]?.ExpressionAttributeValues).toMatchObject({ ':now': { N: String(NOW) }, ':latest': { N: String(NOW - 1_000) } });
  });

  it('a race lost on the idle update (another made the line first): the busy update, the slot after the winner\'s', async () => {
    ddb.on(UpdateItemCommand, { ConditionExpression: BUSY })
      .rejectsOnce(conditionFailed())
      .resolves({ Attributes: { lineEnd: { N: String(NOW + 200) } } });
    ddb.on(UpdateItemCommand, { ConditionExpression: IDLE }).rejects(conditionFailed(NOW + 200));
    await expect(new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST)).resolves.toEqual({ slotMs: NOW + 200 });
    expect(sent().map((i) => i.ConditionExpression)).toEqual([BUSY, IDLE, BUSY]);
  });

  it('lost races every time: gives up after 5 tries with AwsUnavailable (transient: the state retries it)', async () => {
    // Each failed condition says the line would fit, yet the next update fails again (others keep winning).
    ddb.on(UpdateItemCommand).rejects(conditionFailed(NOW + 1_000));
    const err = await new DynamoPacer('claims-table').take(KEY, NOW, 200, LATEST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsUnavailable);
    expect((err as AwsUnavailable).transient).toBe(true);
    expect((err as Error).message).toContain(`lost 5 races in a row for a slot of ${KEY}`);
    expect(ddb).toHaveReceivedCommandTimes(UpdateItemCommand, 5);
  });

  it('throttling maps to Throttled after ONE call; a refused call (validation) to AwsRefused', async () => {
    ddb.on(UpdateItemCommand).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));
    await expect(new DynamoPacer('t').take(KEY, NOW, 200, LATEST)).rejects.toThrow(Throttled);
    expect(ddb).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
    ddb.reset();
    ddb.on(UpdateItemCommand).rejects(Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }));
    await expect(new DynamoPacer('t').take(KEY, NOW, 200, LATEST)).rejects.toThrow(AwsRefused);
  });

  it('whole milliseconds on the wire: now and latest floored, the spacing rounded and at least 1 ms', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { lineEnd: { N: String(NOW) } } });
    await new DynamoPacer('t').take(KEY, NOW + 0.7, 1000 / 3, LATEST + 0.9);
    await new DynamoPacer('t').take(KEY, NOW, 1000 / 5000, LATEST);
    expect(sent().map((i) => i.ExpressionAttributeValues?.[':spacing'])).toEqual([{ N: '333' }, { N: '1' }]);
    expect(sent()[0]?.ExpressionAttributeValues).toMatchObject({ ':now': { N: String(NOW) }, ':latest': { N: String(LATEST) } });
  });

  it('take for take the same slots as the rule: against an item that applies the two conditions, 300 takes of 5 Lambdas', async () => {
    // Prepare: one item, updated only when its condition holds (what DynamoDB does, atomically)
    let item: { lineEnd: number } | undefined;
    ddb.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      const v = input.ExpressionAttributeValues ?? {};
      const n = (k: string): number => Number(v[k]?.N);
      const old = item ? { pk: { S: KEY }, lineEnd: { N: String(item.lineEnd) } } : undefined;
      const fail = (): never => {
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(old ? { Item: old } : {}) });
      };
      if (input.ConditionExpression === BUSY) {
        if (!item || item.lineEnd < n(':now') || item.lineEnd > n(':latest')) fail();
        item = { lineEnd: (item as { lineEnd: number }).lineEnd + n(':spacing') };
        return { Attributes: { lineEnd: old?.lineEnd } };
      }
      if (input.ConditionExpression === IDLE) {
        if (item && !(item.lineEnd < n(':now'))) fail();
        item = { lineEnd: n(':next') };
        return {};
      }
      throw new Error(`unexpected condition ${String(input.ConditionExpression)}`);
    });
    const dynamo = new DynamoPacer('t');
    const sim = new SimPacer();
    // A deterministic walk: callers with clocks that move on, some accepting a short wait only.
    let seed = 11;
    const next = (m: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor((seed / 2 ** 31) * m));
    const clocks = [0, 0, 0, 0, 0].map(() => NOW);
    const outcomes = new Set<string>();
    for (let k = 0; k < 300; k++) {
      const who = next(5);
      const now = (clocks[who] ?? NOW) + next(400);
      clocks[who] = now;
      const latest = now + [-1_000, 0, 100, 2_000, 60_000][next(5)]!;
      const spacing = [100, 200, 1000][next(3)]!;
      const fromDynamo = await dynamo.take(KEY, now, spacing, latest);
      expect(fromDynamo).toEqual(await sim.take(KEY, now, spacing, latest));
      expect(item?.lineEnd).toBe(sim.lineEnd(KEY));
      outcomes.add('full' in fromDynamo ? 'full' : fromDynamo.slotMs === now ? 'now' : 'later');
    }
    // Every case was walked through
    expect([...outcomes].sort()).toEqual(['full', 'later', 'now']);
  });
});
