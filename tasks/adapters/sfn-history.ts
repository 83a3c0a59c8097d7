/**
 * The ExecutionHistory port on Step Functions: GetExecutionHistory, newest first, one page.
 * The failure is the newest ExecutionFailed / ExecutionTimedOut / ExecutionAborted event's error
 * and cause; the failed state is the newest state entered before it (what a redrive resumes at).
 */
import { GetExecutionHistoryCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { ExecutionFailure, ExecutionHistory } from '../lib/ports';
import { awsClientConfig } from './aws-clients';
import { mapAwsError } from './aws-errors';

export function failureOf(events: HistoryEvent[]): ExecutionFailure | undefined {
  const out: ExecutionFailure = {};
  let ended = false;
  for (const e of events) {
    const end = e.executionFailedEventDetails ?? e.executionTimedOutEventDetails ?? e.executionAbortedEventDetails;
    if (!ended && end) {
      ended = true;
      if (end.error) out.error = end.error;
      if (end.cause) out.cause = end.cause;
      continue;
    }
    if (e.stateEnteredEventDetails?.name) {
      out.state = e.stateEnteredEventDetails.name;
      break;
    }
  }
  return ended || out.state ? out : undefined;
}

export class SfnExecutionHistory implements ExecutionHistory {
  private readonly client: SFNClient;
  constructor(client?: SFNClient) {
    this.client = client ?? new SFNClient(awsClientConfig());
  }

  async lastFailure(executionArn: string): Promise<ExecutionFailure | undefined> {
    try {
      const out = await this.client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, includeExecutionData: false }));
      return failureOf(out.events ?? []);
    } catch (err) {
      throw mapAwsError(err, 'Step Functions GetExecutionHistory');
    }
  }
}
