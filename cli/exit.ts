/**
 * Exit codes and the one CLI failure type. These are process outcomes for the operator's shell,
 * not Step Functions errors: nothing here is ever thrown by a task, so they stay out of
 * tasks/lib/errors.ts. Every SDK or lab error is turned into one of these by `classify`.
 */

export const Exit = {
  ok: 0,
  /** The operation or the execution failed. */
  failed: 1,
  /** Usage error or bad input (flags, instance ID, execution name). */
  usage: 2,
  /** The execution, stack, state machine or instance does not exist. */
  notFound: 3,
  /** No credentials, no Region, or access denied. */
  access: 4,
} as const;

export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** A failure the CLI reports as one line on stderr and an exit code. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Optional hint printed after the message (what to do next). */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const usage = (message: string, hint?: string): CliFailure => new CliFailure(message, Exit.usage, hint);
export const notFound = (message: string, hint?: string): CliFailure => new CliFailure(message, Exit.notFound, hint);
export const failed = (message: string, hint?: string): CliFailure => new CliFailure(message, Exit.failed, hint);
export const denied = (message: string, hint?: string): CliFailure => new CliFailure(message, Exit.access, hint);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'TokenProviderError']);
const ACCESS_ERRORS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthFailure',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'KMSAccessDeniedException',
]);
const NOT_FOUND_ERRORS = new Set([
  'ExecutionDoesNotExist',
  'StateMachineDoesNotExist',
  'InvalidInstanceID.NotFound',
  'ResourceNotFound',
  'ResourceNotFoundException',
]);
const USAGE_ERRORS = new Set(['InvalidArn', 'InvalidName', 'InvalidExecutionInput', 'InvalidInstanceID.Malformed']);
const THROTTLE_ERRORS = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** Turns any thrown value into a CliFailure with a readable one-line message. */
export function classify(err: unknown): CliFailure {
  if (err instanceof CliFailure) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : typeof e.Code === 'string' ? e.Code : '';
  const rawMessage = typeof e.message === 'string' ? e.message : String(err);
  const message = rawMessage.split('\n')[0]?.trim() || name || 'unknown error';

  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return denied(`Permission denied: ${message}`, 'The lab needs root (namespaces, Samba): run as root.');
  }
  if (CREDENTIAL_ERRORS.has(name) || /Could not load credentials/i.test(rawMessage)) {
    return denied(
      'No AWS credentials found.',
      'Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or use --local for the lab.',
    );
  }
  if (/Region is missing/i.test(rawMessage)) {
    return denied('No AWS Region configured.', 'Pass --region, or set AWS_REGION / a profile Region.');
  }
  if (ACCESS_ERRORS.has(name)) {
    return denied(`Access denied (${name}): ${message}`, 'Check the role or profile you are using.');
  }
  if (NOT_FOUND_ERRORS.has(name)) return notFound(`${name}: ${message}`);
  if (name === 'ValidationError' && /does not exist/i.test(rawMessage)) return notFound(message);
  if (USAGE_ERRORS.has(name)) return usage(`${name}: ${message}`);
  if (THROTTLE_ERRORS.has(name)) {
    return failed(`Throttled by AWS after retries (${name}): ${message}`, 'Try again, or lower --limit.');
  }
  if (name === 'ExecutionNotRedrivable') return failed(`Not redrivable: ${message}`);
  return failed(name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message);
}
