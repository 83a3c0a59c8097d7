/** SDK errors as a service throws them, and what aws-errors.ts must make of them (the board's adapter tests). */

/** A service's exception class (SSMServiceException, DynamoDBServiceException, …). */
type ServiceExceptionClass<E> = new (options: { name: string; $fault: 'client' | 'server'; $metadata: { httpStatusCode: number }; message: string }) => E;

/** An SDK error named `name` with HTTP `status` (5xx: a server fault). */
export const serviceError = <E>(Exception: ServiceExceptionClass<E>, name: string, status = 400): E =>
  new Exception({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });

/** [case, SDK error name, HTTP status, our error's name, transient]. */
export const MAPPED_ERRORS: [string, string, number, string, boolean][] = [
  ['throttling', 'ThrottlingException', 400, 'Throttled', true],
  ['AccessDenied', 'AccessDeniedException', 400, 'AwsRefused', false],
  ['a server error', 'InternalServerError', 500, 'AwsUnavailable', true],
];
