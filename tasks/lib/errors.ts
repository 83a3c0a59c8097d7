/**
 * The one error catalogue. Every error a task throws is one of these; Step Functions sees the
 * `name` (a string literal, never a class name: bundling renames classes). Workflows import
 * `Errors` for `ErrorEquals`, so no error name is ever retyped.
 *
 * Messages are what the operator reads as the execution's Cause at 3 a.m.: say what happened,
 * to what, and what to check. Never put a secret or a one-time password in a message.
 */

export abstract class AdjoinError extends Error {
  abstract override readonly name: string;
  /** Retried by the state machine (transient) or not (an operator must act). */
  abstract readonly transient: boolean;
}

/** Configuration is missing or malformed. Names every bad key. */
export class ConfigurationError extends AdjoinError {
  override readonly name = 'ConfigurationError';
  readonly transient = false;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * `directory.directoryId` could not give the domain controllers: Directory Service does not know
 * the directory, it is not Active, it is not AWS Managed Microsoft AD, or its DNS / NetBIOS name
 * differs from the configuration. Read at cold start; the next invocation reads it again.
 */
export class DirectoryLookupFailed extends AdjoinError {
  override readonly name = 'DirectoryLookupFailed';
  readonly transient = false;
}

/** The execution input (event, tag value, parameter) is malformed or hostile. Nothing was done. */
export class InvalidInput extends AdjoinError {
  override readonly name = 'InvalidInput';
  readonly transient = false;
}

/** The directory did not answer (connect, timeout, busy, unavailable). Retried. */
export class DirectoryUnavailable extends AdjoinError {
  override readonly name = 'DirectoryUnavailable';
  readonly transient = true;
}

/** The directory refused our credentials or our TLS trust settings failed. An operator must act. */
export class DirectoryAuthFailed extends AdjoinError {
  override readonly name = 'DirectoryAuthFailed';
  readonly transient = false;
}

/** The directory refused an operation (access rights, constraint, unwilling to perform). */
export class DirectoryRefused extends AdjoinError {
  override readonly name = 'DirectoryRefused';
  readonly transient = false;
}

/** Every candidate computer name is held by an object that is not ours. */
export class ComputerNameConflict extends AdjoinError {
  override readonly name = 'ComputerNameConflict';
  readonly transient = false;
}

/** The instance is terminated, shutting down or unknown to EC2: the join is abandoned. */
export class InstanceGone extends AdjoinError {
  override readonly name = 'InstanceGone';
  readonly transient = false;
}

/** The SSM agent is not (yet) Online. Retried with backoff up to the SSM-online deadline. */
export class SsmAgentNotOnline extends AdjoinError {
  override readonly name = 'SsmAgentNotOnline';
  readonly transient = true;
}

/** An AWS API throttled us past the SDK's own adaptive retries. Retried by the state machine. */
export class Throttled extends AdjoinError {
  override readonly name = 'Throttled';
  readonly transient = true;
}

/** An AWS API failed with a server-side or network error. Retried. */
export class AwsUnavailable extends AdjoinError {
  override readonly name = 'AwsUnavailable';
  readonly transient = true;
}

/**
 * An AWS API endpoint could not be reached at all (connect or request timeout, connection
 * refused, no route, no DNS answer): the network path, not the service. Retried; after the
 * retries the Cause names the endpoint, the Region and the likely fix (NAT or VPC endpoint).
 */
export class AwsUnreachable extends AdjoinError {
  override readonly name = 'AwsUnreachable';
  readonly transient = true;
}

/** An AWS API refused us (access denied, unknown document, validation). An operator must act. */
export class AwsRefused extends AdjoinError {
  override readonly name = 'AwsRefused';
  readonly transient = false;
}

/** The join document ran and failed; the Cause carries its output (never a password). */
export class JoinCommandFailed extends AdjoinError {
  override readonly name = 'JoinCommandFailed';
  readonly transient = false;
}

/**
 * The join command of this round is sent, or still running: "Run join document" is asked again
 * (its own retry: a poll per attempt, full jitter). Not a failure unless the retries run out.
 */
export class JoinStillRunning extends AdjoinError {
  override readonly name = 'JoinStillRunning';
  readonly transient = true;
}

/** Another execution holds this instance's join claim (it took over after ours expired or failed). */
export class ClaimLost extends AdjoinError {
  override readonly name = 'ClaimLost';
  readonly transient = false;
}

/** A command did not finish before its deadline. */
export class CommandTimedOut extends AdjoinError {
  override readonly name = 'CommandTimedOut';
  readonly transient = false;
}

/** Directory users do not resolve on the instance; the Cause carries getent/id output. */
export class VerificationFailed extends AdjoinError {
  override readonly name = 'VerificationFailed';
  readonly transient = false;
}

/** Reconcile would delete more than the configured cap; the Cause lists what. Nothing deleted. */
export class DeletionCapExceeded extends AdjoinError {
  override readonly name = 'DeletionCapExceeded';
  readonly transient = false;
}

/** A delete was refused by a safety rule (no full marker, outside the managed OU, instance alive). */
export class UnsafeDeleteRefused extends AdjoinError {
  override readonly name = 'UnsafeDeleteRefused';
  readonly transient = false;
}

/**
 * Reconcile skipped the objects of one or more accounts/Regions whose EC2 could not be asked;
 * the rest was reconciled. Raised by the "Reconcile incomplete" Fail state; the Cause lists them.
 */
export class ReconcileIncomplete extends AdjoinError {
  override readonly name = 'ReconcileIncomplete';
  readonly transient = false;
}

/** The error names, for `ErrorEquals` in workflows. */
export const Errors = {
  ConfigurationError: 'ConfigurationError',
  DirectoryLookupFailed: 'DirectoryLookupFailed',
  InvalidInput: 'InvalidInput',
  DirectoryUnavailable: 'DirectoryUnavailable',
  DirectoryAuthFailed: 'DirectoryAuthFailed',
  DirectoryRefused: 'DirectoryRefused',
  ComputerNameConflict: 'ComputerNameConflict',
  InstanceGone: 'InstanceGone',
  SsmAgentNotOnline: 'SsmAgentNotOnline',
  Throttled: 'Throttled',
  AwsUnavailable: 'AwsUnavailable',
  AwsUnreachable: 'AwsUnreachable',
  AwsRefused: 'AwsRefused',
  JoinCommandFailed: 'JoinCommandFailed',
  JoinStillRunning: 'JoinStillRunning',
  ClaimLost: 'ClaimLost',
  CommandTimedOut: 'CommandTimedOut',
  VerificationFailed: 'VerificationFailed',
  DeletionCapExceeded: 'DeletionCapExceeded',
  UnsafeDeleteRefused: 'UnsafeDeleteRefused',
  ReconcileIncomplete: 'ReconcileIncomplete',
} as const;

export type ErrorName = (typeof Errors)[keyof typeof Errors];

/** Transient errors: the only ones workflows retry (besides Lambda's own service errors). */
export const TransientErrors: ErrorName[] = [
  Errors.DirectoryUnavailable,
  Errors.Throttled,
  Errors.AwsUnavailable,
  Errors.AwsUnreachable,
];

/**
 * A task Lambda ran past its timeout (in a burst: the SDK's own back-off on throttled calls).
 * Retried by the join's burst retry: every join task is idempotent.
 */
export const LambdaTimeout = 'Sandbox.Timedout';

/** Lambda service errors that Step Functions recommends retrying on every Lambda task. */
export const LambdaServiceErrors = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];

/**
 * Lambda throttling: a task function at its reserved concurrency (config lambda.reservedConcurrency)
 * refuses the invoke. Retried longer than the service errors, so a burst waits its turn.
 */
export const LambdaThrottleErrors = ['Lambda.TooManyRequestsException'];
