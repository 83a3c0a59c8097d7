/**
 * Why an execution cannot be redriven, decided before we ask: Step Functions redrives only
 * FAILED, TIMED_OUT and ABORTED Standard executions, within 14 days of their stop, and says
 * NOT_REDRIVABLE (with a reason) for the rest. RedriveExecution's own ExecutionNotRedrivable
 * is still reported when it comes (the backend turns it into a one-line failure).
 */
import type { ExecutionDetail } from './backend';
import { duration } from './format';

export const REDRIVE_WINDOW_MS = 14 * 86400_000;

export function redriveRefusal(e: ExecutionDetail, now: Date): string | undefined {
  switch (e.status) {
    case 'RUNNING':
      return 'it is still running';
    case 'SUCCEEDED':
      return 'it succeeded: there is nothing to redrive';
    case 'PENDING_REDRIVE':
      return 'a redrive is already pending';
    default:
      break;
  }
  const stoppedAt = e.redriveDate && e.stopDate && e.redriveDate > e.stopDate ? e.redriveDate : e.stopDate;
  if (e.stopDate && now.getTime() - e.stopDate.getTime() > REDRIVE_WINDOW_MS) {
    return `it stopped ${duration(now.getTime() - (stoppedAt ?? e.stopDate).getTime())} ago; Step Functions redrives only within 14 days of the stop`;
  }
  if (e.redriveStatus === 'NOT_REDRIVABLE') {
    return `Step Functions says it is not redrivable${e.redriveStatusReason ? `: ${e.redriveStatusReason}` : ''}`;
  }
  return undefined;
}
