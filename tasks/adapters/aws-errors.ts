/**
 * AWS SDK v3 errors → our catalogue. The SDK has already retried (adaptive mode); what reaches
 * us is what is left: throttling → Throttled, server errors and dropped connections →
 * AwsUnavailable, an endpoint that cannot be reached at all (timeout, refused, no route, no DNS)
 * → AwsUnreachable naming the endpoint and the fix (all three retried by the state machine),
 * anything the caller must fix → AwsRefused.
 */
import { AdjoinError, AwsRefused, AwsUnavailable, AwsUnreachable, Throttled } from '../lib/errors';
import { endpointOf, unreachableAdvice } from './aws-clients';

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
/** The connection was made, then dropped: the service side. */
const NETWORK = new Set(['ECONNRESET', 'EPIPE']);
/** No connection (or no answer) at all: the network path. TimeoutError is the SDK's connect/request timeout. */
const UNREACHABLE = new Set(['TimeoutError', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const UNREACHABLE_IN_TEXT = /\b(ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/;
const SERVER = new Set(['InternalError', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'Unavailable', 'InternalServerException', 'ServiceUnavailableException', 'RequestTimeout', 'RequestTimeoutException']);

/** The error's name (SDK v3 sets it to the service's error code). */
export const awsErrorName = (err: unknown): string => {
  const e = (err ?? {}) as SdkErrorLike;
  return typeof e.name === 'string' ? e.name : 'Error';
};

/**
 * `secrets`: values that must never reach the message (AWS validation errors may echo input).
 * `region`: where the call went (default AWS_REGION), named in an AwsUnreachable cause.
 */
export function mapAwsError(err: unknown, operation: string, secrets: string[] = [], region: string | undefined = process.env.AWS_REGION): AdjoinError {
  if (err instanceof AdjoinError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const name = awsErrorName(err);
  const code = typeof e.code === 'string' ? e.code : '';
  let message = typeof e.message === 'string' ? e.message : String(err);
  for (const secret of secrets) if (secret !== '') message = message.split(secret).join('****');
  const status = e.$metadata?.httpStatusCode;
  const text = `${operation} failed: ${name}: ${message}`.slice(0, 1000);
  // A socket error may reach us wrapped (the SDK wraps what is not an Error of its realm): its code is then only in the message.
  const socketCode = UNREACHABLE.has(code) ? code : UNREACHABLE.has(name) ? name : (UNREACHABLE_IN_TEXT.exec(message)?.[0] ?? '');
  if (socketCode) {
    const endpoint = endpointOf(operation, region);
    return new AwsUnreachable(`${operation} failed: cannot reach ${endpoint} (${socketCode}: ${message.slice(0, 300)}); ${unreachableAdvice(endpoint)}`.slice(0, 1000));
  }
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) return new Throttled(text);
  if (SERVER.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500) || NETWORK.has(code) || NETWORK.has(name))
    return new AwsUnavailable(text);
  return new AwsRefused(text);
}
