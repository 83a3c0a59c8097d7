/**
 * The Claims port on DynamoDB: one item per instance, keyed `pk` = `<account>/<region>/<instance-id>`.
 * A take is ONE conditional PutItem (the rule of tasks/lib/claims.ts as a condition
 * expression); when the condition fails, DynamoDB returns the item that stopped us
 * (ReturnValuesOnConditionCheckFailure ALL_OLD), so "already joined" and "held by another"
 * cost no second read. Updates are conditional on the holder. SDK errors map through
 * aws-errors.ts (throttling → Throttled, retried by the state machine).
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { CLAIM_SKEW_SECONDS, newClaim } from '../lib/claims';
import type { Claim, ClaimChanges, Claims, SsmBoard, TakeResult } from '../lib/ports';
import { SSM_WAIT_INDEX } from '../lib/ssm-board';
import { awsClientConfig } from './aws-clients';
import { mapAwsError } from './aws-errors';

type Item = Record<string, AttributeValue>;

const NUMBER_FIELDS = new Set(['claimedAt', 'leaseUntil', 'ttl', 'round', 'sentAt', 'heartbeatAt', 'ssmWaitSince', 'ssmRound', 'ssmWaitAt', 'ssmWaitRound', 'ssmOnlineAt']);
const STRING_FIELDS = new Set(['execution', 'status', 'commandId', 'objectGuid', 'dn', 'computerName', 'phase', 'failedState', 'error', 'directory', 'ssmWait']);

/** Pages of the board's index read per shard at most (1 MB each: ~10,000 keys). */
const MAX_BOARD_PAGES = 10;

/** The condition of a take (tasks/lib/claims.ts `mayTake`, same order). */
export const TAKE_CONDITION =
  'attribute_not_exists(pk) OR (#status <> :joined AND (#execution = :me OR #status IN (:failed, :released) ' +
  'OR #leaseUntil < :now OR #leaseUntil > :maxLease OR #claimedAt > :future))';

export function toItem(claim: Claim): Item {
  const item: Item = { pk: { S: claim.key } };
  for (const [k, v] of Object.entries(claim)) {
    if (k === 'key' || v === undefined) continue;
    item[k] = typeof v === 'number' ? { N: String(v) } : { S: String(v) };
  }
  return item;
}

export function fromItem(item: Item): Claim {
  const out: Record<string, unknown> = { key: item.pk?.S ?? '' };
  for (const [k, v] of Object.entries(item)) {
    if (NUMBER_FIELDS.has(k) && v.N !== undefined) out[k] = Number(v.N);
    else if (STRING_FIELDS.has(k) && v.S !== undefined) out[k] = v.S;
  }
  return out as unknown as Claim;
}

export class DynamoClaims implements Claims, SsmBoard {
  private readonly client: DynamoDBClient;

  constructor(
    private readonly tableName: string,
    client?: DynamoDBClient,
  ) {
    this.client = client ?? new DynamoDBClient(awsClientConfig());
  }

  async get(key: string): Promise<Claim | undefined> {
    try {
      const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key } }, ConsistentRead: true }));
      return out.Item ? fromItem(out.Item) : undefined;
    } catch (err) {
      throw mapAwsError(err, 'DynamoDB GetItem (join claim)');
    }
  }

  async take(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Promise<TakeResult> {
    const claim = newClaim(key, execution, nowSeconds, leaseSeconds);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(claim),
          ConditionExpression: TAKE_CONDITION,
          ExpressionAttributeNames: { '#status': 'status', '#execution': 'execution', '#leaseUntil': 'leaseUntil', '#claimedAt': 'claimedAt' },
          ExpressionAttributeValues: {
            ':joined': { S: 'joined' },
            ':me': { S: execution },
            ':failed': { S: 'failed' },
            ':released': { S: 'released' },
            ':now': { N: String(nowSeconds) },
            ':maxLease': { N: String(nowSeconds + leaseSeconds + CLAIM_SKEW_SECONDS) },
            ':future': { N: String(nowSeconds + CLAIM_SKEW_SECONDS) },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true, claim };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        // Held by another execution (or joined): the item that stopped us came back with the error.
        const holder = err.Item ? fromItem(err.Item) : await this.get(key);
        if (holder) return { taken: false, holder };
        throw mapAwsError(new Error('the claim item vanished between the conditional write and the read'), 'DynamoDB PutItem (join claim)');
      }
      throw mapAwsError(err, 'DynamoDB PutItem (join claim)');
    }
  }

  async update(key: string, execution: string, changes: ClaimChanges, options: { unlessJoined?: boolean } = {}): Promise<boolean> {
    const names: Record<string, string> = { '#execution': 'execution' };
    const values: Item = { ':me': { S: execution } };
    const sets: string[] = [];
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = typeof v === 'number' ? { N: String(v) } : { S: String(v) };
      sets.push(`#${k} = :${k}`);
    }
    let condition = '#execution = :me';
    if (options.unlessJoined) {
      names['#status'] = 'status';
      values[':joined'] = { S: 'joined' };
      condition += ' AND #status <> :joined';
    }
    if (sets.length === 0) return (await this.get(key))?.execution === execution;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key } },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw mapAwsError(err, 'DynamoDB UpdateItem (join claim)');
    }
  }

  /** The SSM Online board (tasks/lib/ssm-board.ts): keys in `shard` registered since `sinceSeconds`, from the sparse index. */
  async waiting(shard: string, sinceSeconds: number): Promise<string[]> {
    const keys: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    for (let page = 0; page < MAX_BOARD_PAGES; page++) {
      try {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: SSM_WAIT_INDEX,
            KeyConditionExpression: '#shard = :shard AND #at >= :since',
            ExpressionAttributeNames: { '#shard': 'ssmWait', '#at': 'ssmWaitAt' },
            ExpressionAttributeValues: { ':shard': { S: shard }, ':since': { N: String(Math.floor(sinceSeconds)) } },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of out.Items ?? []) if (item.pk?.S) keys.push(item.pk.S);
        start = out.LastEvaluatedKey;
        if (!start) break;
      } catch (err) {
        throw mapAwsError(err, 'DynamoDB Query (SSM Online board)');
      }
    }
    return keys;
  }

  /** Sets ssmOnlineAt and takes the claim off the board, only while it is on it. */
  async markOnline(key: string, atSeconds: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key } },
          UpdateExpression: 'SET #online = :at REMOVE #shard',
          ConditionExpression: 'attribute_exists(#shard)',
          ExpressionAttributeNames: { '#online': 'ssmOnlineAt', '#shard': 'ssmWait' },
          ExpressionAttributeValues: { ':at': { N: String(Math.floor(atSeconds)) } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw mapAwsError(err, 'DynamoDB UpdateItem (SSM Online board)');
    }
  }

  /** The board's health item `board/<account>/<region>`: okAt or failedAt (epoch s), kept a day. */
  async recordSweep(board: string, outcome: 'ok' | 'failed', atSeconds: number): Promise<void> {
    const at = Math.floor(atSeconds);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: board } },
          UpdateExpression: 'SET #at = :at, #ttl = :ttl',
          ExpressionAttributeNames: { '#at': outcome === 'ok' ? 'okAt' : 'failedAt', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':at': { N: String(at) }, ':ttl': { N: String(at + 86400) } },
        }),
      );
    } catch (err) {
      throw mapAwsError(err, 'DynamoDB UpdateItem (SSM Online board health)');
    }
  }

  async sweepHealth(board: string): Promise<{ okAt?: number; failedAt?: number }> {
    try {
      const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: board } } }));
      const num = (v: AttributeValue | undefined): number | undefined => (v?.N !== undefined && Number.isFinite(Number(v.N)) ? Number(v.N) : undefined);
      const okAt = num(out.Item?.okAt);
      const failedAt = num(out.Item?.failedAt);
      return { ...(okAt !== undefined ? { okAt } : {}), ...(failedAt !== undefined ? { failedAt } : {}) };
    } catch (err) {
      throw mapAwsError(err, 'DynamoDB GetItem (SSM Online board health)');
    }
  }
}
