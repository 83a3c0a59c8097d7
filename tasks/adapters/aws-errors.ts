/**
 * AWS SDK v3 errors → our catalogue. The SDK has already retried (adaptive mode); what reaches
 * us is what is left: throttling → Throttled, server/network → AwsUnavailable (both retried by
 * the state machine), anything the caller must fix → AwsRefused.
 */
import { AdjoinError, AwsRefused, AwsUnavailable, Throttled } from '../lib/errors';

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
  'LimitExceededException',
]);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const SERVER = new Set(['InternalError', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'Unavailable', 'InternalServerException', 'ServiceUnavailableException', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** The error's name (SDK v3 sets it to the service's error code). */
export const awsErrorName = (err: unknown): string => {
  const e = (err ?? {}) as SdkErrorLike;
  return typeof e.name === 'string' ? e.name : 'Error';
};

/** `secrets`: values that must never reach the message (AWS validation errors may echo input). */
export function mapAwsError(err: unknown, operation: string, secrets: string[] = []): AdjoinError {
  if (err instanceof AdjoinError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const name = awsErrorName(err);
  const code = typeof e.code === 'string' ? e.code : '';
  let message = typeof e.message === 'string' ? e.message : String(err);
  for (const secret of secrets) if (secret !== '') message = message.split(secret).join('****');
  const status = e.$metadata?.httpStatusCode;
  const text = `${operation} failed: ${name}: ${message}`.slice(0, 1000);
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) return new Throttled(text);
  if (SERVER.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500) || NETWORK.has(code) || NETWORK.has(name))
    return new AwsUnavailable(text);
  return new AwsRefused(text);
}
