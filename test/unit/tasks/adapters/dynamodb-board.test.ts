/**
 * The SSM Online board on DynamoDB (tasks/adapters/dynamodb-claims.ts `waiting`, `markOnline`):
 * the exact Query of the sparse index ssm-wait and its paging, the conditional UpdateItem that
 * takes a claim off the board, and the board's fields in the item (tasks/lib/ssm-board.ts).
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DynamoClaims, fromItem, toItem } from '../../../../tasks/adapters/dynamodb-claims';
import { newClaim } from '../../../../tasks/lib/claims';
import { AdjoinError, AwsUnavailable, Throttled } from '../../../../tasks/lib/errors';
import type { Claim } from '../../../../tasks/lib/ports';
import { aString } from '../../../fakes';
import { MAPPED_ERRORS, serviceError } from './aws-error-cases';
import { SSM_WAIT_INDEX } from '../../../../tasks/lib/ssm-board';

const ddb = mockClient(DynamoDBClient);
const SHARD = '123456789012/eu-west-1/7';
const KEY = '123456789012/eu-west-1/i-0123456789abcdef0';
const NOW = 1_800_000_000;

beforeEach(() => ddb.reset());

const board = (): DynamoClaims => new DynamoClaims('claims-table');
const ddbError = (name: string, status = 400): DynamoDBServiceException => serviceError(DynamoDBServiceException, name, status);
/** A keys-only index item: the table key and the index keys. */
const indexItem = (id: string, at = NOW) => ({ pk: { S: `123456789012/eu-west-1/${id}` }, ssmWait: { S: SHARD }, ssmWaitAt: { N: String(at) } });
const queries = () => ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);

describe('DynamoClaims.waiting (the board: one shard of the sparse index ssm-wait)', () => {
  it('one Query of the index: this shard, registered at or after the cutoff (whole seconds)', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [indexItem('i-1'), indexItem('i-2')] });
    // Act
    const keys = await board().waiting(SHARD, NOW - 1500.7);
    // Assess
    expect(keys).toEqual(['123456789012/eu-west-1/i-1', '123456789012/eu-west-1/i-2']);
    expect(queries()).toEqual([
      {
        TableName: 'claims-table',
        IndexName: 'ssm-wait',
        KeyConditionExpression: '#shard = :shard AND #at >= :since',
        ExpressionAttributeNames: { '#shard': 'ssmWait', '#at': 'ssmWaitAt' },
        ExpressionAttributeValues: { ':shard': { S: SHARD }, ':since': { N: String(NOW - 1501) } },
      },
    ]);
    expect(SSM_WAIT_INDEX).toBe('ssm-wait');
  });

  it('reads every page: each next Query starts after the last key of the one before', async () => {
    // Prepare
    const last1 = { pk: { S: '123456789012/eu-west-1/i-2' }, ssmWait: { S: SHARD }, ssmWaitAt: { N: String(NOW) } };
    const last2 = { pk: { S: '123456789012/eu-west-1/i-3' }, ssmWait: { S: SHARD }, ssmWaitAt: { N: String(NOW + 1) } };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [indexItem('i-1'), indexItem('i-2')], LastEvaluatedKey: last1 })
      .resolvesOnce({ Items: [indexItem('i-3', NOW + 1)], LastEvaluatedKey: last2 })
      .resolvesOnce({ Items: [indexItem('i-4', NOW + 2)] })
      .resolves({ Items: [indexItem('i-never')] });
    // Act
    const keys = await board().waiting(SHARD, NOW - 60);
    // Assess
    expect(keys.map((k) => k.split('/')[2])).toEqual(['i-1', 'i-2', 'i-3', 'i-4']);
    const sent = queries();
    expect(sent).toHaveLength(3);
    expect(sent[0]).not.toHaveProperty('ExclusiveStartKey');
    expect(sent[1]?.ExclusiveStartKey).toEqual(last1);
    expect(sent[2]?.ExclusiveStartKey).toEqual(last2);
    // Every page asks the same question.
    for (const q of sent) expect(q).toMatchObject({ IndexName: 'ssm-wait', ExpressionAttributeValues: { ':shard': { S: SHARD }, ':since': { N: String(NOW - 60) } } });
  });

  it('stops after 10 pages when the index never stops paging (what was read is returned)', async () => {
    // Prepare
    let n = 0;
    ddb.on(QueryCommand).callsFake(() => {
      n += 1;
      return { Items: [indexItem(`i-${n}`)], LastEvaluatedKey: indexItem(`i-${n}`) };
    });
    // Act
    const keys = await board().waiting(SHARD, NOW);
    // Assess
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 10);
    expect(keys).toHaveLength(10);
    expect(keys[9]).toBe('123456789012/eu-west-1/i-10');
  });

  it('skips items without a string pk (a keys-only index always has it; anything else is not a claim)', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({
      Items: [indexItem('i-1'), { ssmWait: { S: SHARD }, ssmWaitAt: { N: String(NOW) } }, { pk: { N: '5' }, ssmWait: { S: SHARD } }, { pk: { S: '' } }, indexItem('i-2')],
    });
    // Act / Assess
    await expect(board().waiting(SHARD, NOW)).resolves.toEqual(['123456789012/eu-west-1/i-1', '123456789012/eu-west-1/i-2']);
  });

  it('an empty shard: no keys (no Items at all, too)', async () => {
    // Prepare
    ddb.on(QueryCommand).resolvesOnce({ Items: [] }).resolves({});
    // Act / Assess
    await expect(board().waiting(SHARD, NOW)).resolves.toEqual([]);
    await expect(board().waiting(SHARD, NOW)).resolves.toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
  });

  it('throttling → Throttled (the sweeping task backs off)', async () => {
    // Prepare
    ddb.on(QueryCommand).rejects(ddbError('ProvisionedThroughputExceededException'));
    // Act / Assess
    await expect(board().waiting(SHARD, NOW)).rejects.toThrow(Throttled);
  });

  it('throttled on a later page: the whole read fails (no half answer), mapped', async () => {
    // Prepare
    ddb.on(QueryCommand).resolvesOnce({ Items: [indexItem('i-1')], LastEvaluatedKey: indexItem('i-1') }).rejects(ddbError('ThrottlingException'));
    // Act / Assess
    await expect(board().waiting(SHARD, NOW)).rejects.toThrow(Throttled);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
  });

  it('AccessDenied (no dynamodb:Query on the index) → a non-transient error naming the board and the call', async () => {
    // Prepare
    ddb.on(QueryCommand).rejects(ddbError('AccessDeniedException'));
    // Act
    const err: unknown = await board().waiting(SHARD, NOW).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(AdjoinError);
    expect(err).toMatchObject({ name: 'AwsRefused', transient: false });
    expect((err as Error).message).toContain('DynamoDB Query (SSM Online board) failed: AccessDeniedException');
  });

  it('a server error → AwsUnavailable (transient)', async () => {
    // Prepare
    ddb.on(QueryCommand).rejects(ddbError('InternalServerError', 500));
    // Act / Assess
    await expect(board().waiting(SHARD, NOW)).rejects.toThrow(AwsUnavailable);
  });
});

describe('DynamoClaims.markOnline (the sweeper takes an Online agent off the board)', () => {
  it('one UpdateItem: SET ssmOnlineAt, REMOVE ssmWait, only while ssmWait exists', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).resolves({});
    // Act
    const marked = await board().markOnline(KEY, NOW + 12.9);
    // Assess
    expect(marked).toBe(true);
    expect(ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'claims-table',
        Key: { pk: { S: KEY } },
        UpdateExpression: 'SET #online = :at REMOVE #shard',
        ConditionExpression: 'attribute_exists(#shard)',
        ExpressionAttributeNames: { '#online': 'ssmOnlineAt', '#shard': 'ssmWait' },
        ExpressionAttributeValues: { ':at': { N: String(NOW + 12) } },
      },
    ]);
  });

  it('not on the board (any more): ConditionalCheckFailedException → false, nothing thrown', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    // Act / Assess
    await expect(board().markOnline(KEY, NOW)).resolves.toBe(false);
  });

  it.each(MAPPED_ERRORS)('%s → mapped, naming the board', async (_case, sdkName, status, name, transient) => {
    // Prepare
    ddb.on(UpdateItemCommand).rejects(serviceError(DynamoDBServiceException, sdkName, status));
    // Act / Assess
    await expect(board().markOnline(KEY, NOW)).rejects.toBeInstanceOf(AdjoinError);
    await expect(board().markOnline(KEY, NOW)).rejects.toMatchObject({ name, transient, message: aString(/^DynamoDB UpdateItem \(SSM Online board\) failed/) });
  });
});

describe('the board fields in the claim item', () => {
  const waiting: Claim = { ...newClaim(KEY, 'exec-1', NOW, 900), ssmWait: SHARD, ssmWaitAt: NOW + 3, ssmWaitRound: 2, ssmOnlineAt: 0 };

  it('toItem: ssmWait is a string, ssmWaitAt / ssmWaitRound / ssmOnlineAt numbers', () => {
    // Act
    const item = toItem(waiting);
    // Assess
    expect(item.ssmWait).toEqual({ S: SHARD });
    expect(item.ssmWaitAt).toEqual({ N: String(NOW + 3) });
    expect(item.ssmWaitRound).toEqual({ N: '2' });
    expect(item.ssmOnlineAt).toEqual({ N: '0' });
  });

  it('fromItem(toItem(claim)) is the claim, waiting and marked Online', () => {
    // Prepare
    const marked: Claim = { ...waiting, ssmOnlineAt: NOW + 40 };
    delete marked.ssmWait;
    // Act / Assess
    expect(fromItem(toItem(waiting))).toEqual(waiting);
    expect(fromItem(toItem(marked))).toEqual(marked);
    expect(fromItem(toItem(marked))).not.toHaveProperty('ssmWait');
  });

  it('fromItem reads the fields DynamoDB hands back (as the sweeper left them), ignoring wrongly typed ones', () => {
    // Prepare
    const item = { ...toItem(newClaim(KEY, 'exec-1', NOW, 900)), ssmWaitAt: { N: '1800000003' }, ssmWaitRound: { N: '4' }, ssmOnlineAt: { N: '1800000050' }, ssmWait: { N: '7' } };
    // Act
    const claim = fromItem(item);
    // Assess
    expect(claim).toMatchObject({ ssmWaitAt: 1_800_000_003, ssmWaitRound: 4, ssmOnlineAt: 1_800_000_050 });
    expect(claim).not.toHaveProperty('ssmWait');
  });
});
