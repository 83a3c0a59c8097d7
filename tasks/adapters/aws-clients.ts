/**
 * One configuration for every AWS SDK client the tasks build: adaptive retry and connect and
 * request timeouts short enough that all attempts end well before the shortest task Lambda
 * timeout (infra/functions.ts), so a missing network path fails as AwsUnreachable with a cause
 * instead of as a bare Lambda timeout. And the endpoint a failed operation was trying to reach.
 */

/** Connect within 3 s, an answer within 5 s, 3 attempts: at most 3 × (3 + 5 + 1 backoff) = 27 s. */
export const AwsClientTimeouts = {
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 5_000,
  maxAttempts: 3,
} as const;

/** The longest time all attempts of one SDK call can take (the backoff between attempts is under 1 s each). */
export const worstCaseCallMs = (): number =>
  AwsClientTimeouts.maxAttempts * (AwsClientTimeouts.connectionTimeoutMs + AwsClientTimeouts.requestTimeoutMs + 1_000);

export interface AwsClientConfig {
  region?: string;
  retryMode: 'adaptive';
  maxAttempts: number;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
}

/** What every task SDK client is built with (spread it, then add credentials). */
export function awsClientConfig(region?: string): AwsClientConfig {
  return {
    ...(region ? { region } : {}),
    retryMode: 'adaptive',
    maxAttempts: AwsClientTimeouts.maxAttempts,
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes, and waits on.
    requestHandler: { connectionTimeout: AwsClientTimeouts.connectionTimeoutMs, requestTimeout: AwsClientTimeouts.requestTimeoutMs, throwOnRequestTimeout: true },
  };
}

/** Endpoint prefixes of the services the tasks call, by the first word(s) of an operation text. */
const SERVICES: [RegExp, string][] = [
  [/^EC2\b/, 'ec2'],
  [/^SSM\b/, 'ssm'],
  [/^STS\b/, 'sts'],
  [/^Secrets Manager\b/, 'secretsmanager'],
  [/^Directory Service\b/, 'ds'],
];

/** The regional endpoint an operation talks to ("SSM SendCommand …" in eu-west-1 → ssm.eu-west-1.amazonaws.com). */
export function endpointOf(operation: string, region: string | undefined): string {
  const service = SERVICES.find(([re]) => re.test(operation))?.[1] ?? operation.split(' ')[0]?.toLowerCase() ?? 'aws';
  if (!region) return `${service}.<region>.amazonaws.com`;
  return `${service}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** The Cause's advice when an endpoint cannot be reached from the task's subnets. */
export const unreachableAdvice = (endpoint: string): string =>
  `no NAT route or VPC endpoint for ${endpoint} from the Lambda subnets: set network.createEndpoints or add a NAT route, ` +
  'and allow egress on 443 from the Lambda security group (README "Network prerequisites")';
