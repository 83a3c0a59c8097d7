/**
 * Every task Lambda: its id (file name in tasks/, function name suffix) and what it is for.
 * infra/ makes one NodejsFunction per entry; lab/ maps each function ARN to the module's
 * `makeHandler`. One list, so neither side can forget a task.
 */
export const TaskIds = [
  // join
  'read-instance',
  'check-ssm-agent',
  'prepare-computer-object',
  'run-join-document',
  'run-windows-join-document',
  'record-result',
  'remove-join-artifacts',
  // join cleanup (a join execution ended FAILED / TIMED_OUT / ABORTED)
  'clean-up-failed-join',
  // leave
  'find-computer-objects',
  'delete-computer-object',
  'record-leave',
  // reconcile
  'find-stale-objects',
  'check-deletion-cap',
  'report-reconcile',
  // operator: `adjoin doctor` invokes it (no workflow does)
  'check-setup',
] as const;

export type TaskId = (typeof TaskIds)[number];

/** The fixed Lambda function name of a task (fixed names make the ASL extractable and readable). */
export const functionName = (prefix: string, id: TaskId): string => `${prefix}-${id}`;
