/**
 * The Pacer port on DynamoDB (tasks/lib/pace.ts): one item per line in the join-claims table,
 * keyed `pk` = `pace/<account>/<region>/<api>`, its `lineEnd` the epoch ms of the line's next
 * free slot. A take is one conditional UpdateItem (two when the line was idle), the rule of
 * `nextSlot` as condition expressions:
 *
 *   1. line busy and short enough:  SET lineEnd = lineEnd + spacing   IF now <= lineEnd <= latest
 *      → the slot is the old lineEnd (ReturnValues UPDATED_OLD)
 *   2. line idle (no item, or its end is past): SET lineEnd = now + spacing   IF no item OR lineEnd < now
 *      → the slot is now
 *   the old item comes back with a failed condition (ReturnValuesOnConditionCheckFailure ALL_OLD):
 *   its end past latest → full (nothing written); otherwise the other update, a few times (a race).
 *
 * The items carry `ttl` (a day after their end), so an idle line goes away. The roles that pace
 * already hold the 'claims' rights (GetItem/PutItem/UpdateItem on this table: infra/permissions.ts).
 * SDK errors map through aws-errors.ts (throttling → Throttled).
 */
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { AwsUnavailable } from '../lib/errors';
import { PACE_RETENTION_SECONDS, nextSlot } from '../lib/pace';
import type { Pacer, SlotResult } from '../lib/ports';
import { awsClientConfig } from './aws-clients';
import { mapAwsError } from './aws-errors';

/** Races lost in a row before giving up with AwsUnavailable (each loser is told the item that won). */
const MAX_RACES = 5;

const ttlOf = (lineEndMs: number): AttributeValue => ({ N: String(Math.ceil(lineEndMs / 1000) + PACE_RETENTION_SECONDS) });

export class DynamoPacer implements Pacer {
  private readonly client: DynamoDBClient;

  constructor(
    private readonly tableName: string,
    client?: DynamoDBClient,
  ) {
    this.client = client ?? new DynamoDBClient(awsClientConfig());
  }

  async take(key: string, nowMs: number, spacingMs: number, latestMs: number): Promise<SlotResult> {
    const now = Math.floor(nowMs);
    const spacing = Math.max(1, Math.round(spacingMs));
    const latest = Math.floor(latestMs);
    let known: number | undefined; // the line's end as last seen; undefined: try the busy update first
    for (let race = 0; race < MAX_RACES; race++) {
      const plan = known === undefined ? undefined : nextSlot(known, now, spacing, latest);
      if (plan && 'full' in plan) return plan;
      const idle = known !== undefined && known < now;
      try {
        if (idle || known === -1) {
          await this.send(key, 'SET #end = :next, #ttl = :ttl', 'attribute_not_exists(pk) OR #end < :now', {
            ':next': { N: String(now + spacing) },
            ':now': { N: String(now) },
            ':ttl': ttlOf(now + spacing),
          });
          return { slotMs: now };
        }
        // Not BETWEEN: DynamoDB refuses a BETWEEN whose bounds are reversed (ValidationException), and a
        // latest before now must simply find the line full (nextSlot).
        const out = await this.send(key, 'SET #end = #end + :spacing, #ttl = :ttl', '#end >= :now AND #end <= :latest', {
          ':spacing': { N: String(spacing) },
          ':now': { N: String(now) },
          ':latest': { N: String(latest) },
          ':ttl': ttlOf(latest + spacing),
        });
        const old = Number(out?.lineEnd?.N);
        if (!Number.isFinite(old)) throw new Error('the line item came back without its end');
        return { slotMs: old };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw mapAwsError(err, 'DynamoDB UpdateItem (pacing line)');
        const end = err.Item?.lineEnd?.N;
        known = end === undefined ? -1 : Number(end); // -1: no item (or no end): the idle update
        if (known !== -1 && !Number.isFinite(known)) known = -1;
      }
    }
    // Transient (the state's throttling retry takes it): mapAwsError would call a plain Error AwsRefused, which ends the join.
    throw new AwsUnavailable(`DynamoDB UpdateItem (pacing line) failed: lost ${MAX_RACES} races in a row for a slot of ${key}`);
  }

  async peek(key: string): Promise<number | undefined> {
    try {
      const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key } }, ProjectionExpression: '#end', ExpressionAttributeNames: { '#end': 'lineEnd' } }));
      const end = Number(out.Item?.lineEnd?.N);
      return out.Item?.lineEnd?.N !== undefined && Number.isFinite(end) ? end : undefined;
    } catch (err) {
      throw mapAwsError(err, 'DynamoDB GetItem (pacing line)');
    }
  }

  private async send(key: string, update: string, condition: string, values: Record<string, AttributeValue>): Promise<Record<string, AttributeValue> | undefined> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key } },
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#end': 'lineEnd', '#ttl': 'ttl' },
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_OLD',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return out.Attributes;
  }
}
