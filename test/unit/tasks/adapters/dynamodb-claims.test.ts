import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DynamoClaims, fromItem, TAKE_CONDITION, toItem } from '../../../../tasks/adapters/dynamodb-claims';
import { SfnExecutionHistory } from '../../../../tasks/adapters/sfn-history';
import { mayTake, newClaim } from '../../../../tasks/lib/claims';
import { Throttled } from '../../../../tasks/lib/errors';
import type { Claim } from '../../../../tasks/lib/ports';

const ddb = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);
const KEY = '123456789012/eu-west-1/i-0123456789abcdef0';
const NOW = 1_800_000_000;

beforeEach(() => {
  ddb.reset();
  sfn.reset();
});

const conditionFailed = (item?: Claim) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item ? { Item: toItem(item) } : {}) });

describe('DynamoClaims', () => {
  it('take: ONE conditional PutItem of the whole item, with the rule of tasks/lib/claims.ts', async () => {
    // Prepare
    ddb.on(PutItemCommand).resolves({});
    // Act
    const out = await new DynamoClaims('claims-table').take(KEY, 'exec-1', NOW, 900);
    // Assess
    expect(out).toEqual({ taken: true, claim: newClaim(KEY, 'exec-1', NOW, 900) });
    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'claims-table',
      Item: {
        pk: { S: KEY },
        execution: { S: 'exec-1' },
        status: { S: 'joining' },
        claimedAt: { N: String(NOW) },
        leaseUntil: { N: String(NOW + 900) },
        ttl: { N: String(NOW + 900 + 90 * 86400) },
        round: { N: '0' },
      },
      ConditionExpression:
        'attribute_not_exists(pk) OR (#status <> :joined AND (#execution = :me OR #status IN (:failed, :released) ' +
        'OR #leaseUntil < :now OR #leaseUntil > :maxLease OR #claimedAt > :future))',
      ExpressionAttributeNames: { '#status': 'status', '#execution': 'execution', '#leaseUntil': 'leaseUntil', '#claimedAt': 'claimedAt' },
      ExpressionAttributeValues: {
        ':joined': { S: 'joined' },
        ':me': { S: 'exec-1' },
        ':failed': { S: 'failed' },
        ':released': { S: 'released' },
        ':now': { N: String(NOW) },
        ':maxLease': { N: String(NOW + 960) },
        ':future': { N: String(NOW + 60) },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(TAKE_CONDITION).toContain('attribute_not_exists(pk)');
  });

  it('take: ConditionalCheckFailedException is "held by another", with the item DynamoDB returned (no second read)', async () => {
    const holder: Claim = { ...newClaim(KEY, 'exec-0', NOW - 30, 900), commandId: 'cmd-1' };
    ddb.on(PutItemCommand).rejects(conditionFailed(holder));
    const out = await new DynamoClaims('t').take(KEY, 'exec-1', NOW, 900);
    expect(out).toEqual({ taken: false, holder });
    expect(ddb).toHaveReceivedCommandTimes(GetItemCommand, 0);
  });

  it('take: throttling maps to Throttled (retried by the state machine)', async () => {
    ddb.on(PutItemCommand).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));
    await expect(new DynamoClaims('t').take(KEY, 'exec-1', NOW, 900)).rejects.toThrow(Throttled);
  });

  it('update: SET of the given fields, conditional on the holder (and not joined when asked)', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    const ok = await new DynamoClaims('t').update(KEY, 'exec-1', { status: 'failed', failedState: 'Run join document', round: 1 }, { unlessJoined: true });
    expect(ok).toBe(true);
    expect(ddb).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: 't',
      Key: { pk: { S: KEY } },
      UpdateExpression: 'SET #status = :status, #failedState = :failedState, #round = :round',
      ConditionExpression: '#execution = :me AND #status <> :joined',
      ExpressionAttributeNames: { '#execution': 'execution', '#status': 'status', '#failedState': 'failedState', '#round': 'round' },
      ExpressionAttributeValues: { ':me': { S: 'exec-1' }, ':joined': { S: 'joined' }, ':status': { S: 'failed' }, ':failedState': { S: 'Run join document' }, ':round': { N: '1' } },
    });
  });

  it('update: another holder → false, nothing thrown', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    await expect(new DynamoClaims('t').update(KEY, 'exec-1', { status: 'joined' })).resolves.toBe(false);
  });

  it('get: a consistent read, the item back as a Claim', async () => {
    const claim: Claim = { ...newClaim(KEY, 'exec-1', NOW, 900), phase: 'prepared', dn: 'CN=X,OU=A', objectGuid: 'g' };
    ddb.on(GetItemCommand).resolves({ Item: toItem(claim) });
    await expect(new DynamoClaims('t').get(KEY)).resolves.toEqual(claim);
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, { TableName: 't', Key: { pk: { S: KEY } }, ConsistentRead: true });
    expect(fromItem(toItem(claim))).toEqual(claim);
  });
});

describe('mayTake (the rule the condition expression spells)', () => {
  const held = newClaim(KEY, 'exec-0', NOW - 10, 900);
  it.each<[string, Claim | undefined, boolean]>([
    ['no item', undefined, true],
    ['a fresh claim of another', held, false],
    ['our own claim', { ...held, execution: 'exec-1' }, true],
    ['joined, even our own', { ...held, execution: 'exec-1', status: 'joined' }, false],
    ['failed', { ...held, status: 'failed' }, true],
    ['released', { ...held, status: 'released' }, true],
    ['an expired lease', { ...held, leaseUntil: NOW - 1 }, true],
    ['a lease too far ahead', { ...held, leaseUntil: NOW + 2000 }, true],
    ['a claimedAt in the future', { ...held, claimedAt: NOW + 600 }, true],
  ])('%s', (_case, item, expected) => {
    expect(mayTake(item, 'exec-1', NOW, 900)).toBe(expected);
  });
});

describe('SfnExecutionHistory', () => {
  it('the newest failure and the state it failed in, from one reverse-ordered page', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 9, type: 'ExecutionFailed', timestamp: new Date(), executionFailedEventDetails: { error: 'JoinCommandFailed', cause: 'adcli: …' } },
        { id: 8, type: 'TaskFailed', timestamp: new Date() },
        { id: 7, type: 'TaskStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'Run join document' } },
        { id: 3, type: 'TaskStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'Read instance' } },
      ],
    });
    await expect(new SfnExecutionHistory().lastFailure('arn:x')).resolves.toEqual({ state: 'Run join document', error: 'JoinCommandFailed', cause: 'adcli: …' });
    expect(sfn).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: 'arn:x', reverseOrder: true, includeExecutionData: false });
  });
});
