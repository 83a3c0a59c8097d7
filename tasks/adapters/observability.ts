/**
 * Powertools Metrics and Tracer for the production ports. Both only in Lambda
 * (AWS_LAMBDA_FUNCTION_NAME is set by the runtime): the lab, the CLI and the tests build the
 * same adapters without either.
 *
 *   powertoolsMetrics()  the MetricsPort (tasks/lib/metrics.ts): one EMF line per count, flushed
 *                        at once (a single metric), namespace `adjoin`, dimension service=adjoin.
 *   traced(client)       an AWS SDK v3 client with X-Ray subsegments per call (captureAWSv3Client);
 *                        outside Lambda the client itself.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { MetricsNamespace, MetricsService, type MetricsPort } from '../lib/metrics';

export const inLambda = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.AWS_LAMBDA_FUNCTION_NAME);

export function powertoolsMetrics(): MetricsPort {
  const metrics = new Metrics({ namespace: MetricsNamespace, serviceName: MetricsService });
  return {
    count(name, dimensions) {
      try {
        const one = metrics.singleMetric();
        one.addDimensions(dimensions);
        one.addMetric(name, MetricUnit.Count, 1);
      } catch {
        // A metric must never fail a step.
      }
    },
  };
}

let tracer: Tracer | undefined;

/** The client, traced when running in Lambda. */
export function traced<T>(client: T, env: NodeJS.ProcessEnv = process.env): T {
  if (!inLambda(env)) return client;
  tracer ??= new Tracer({ serviceName: MetricsService });
  return tracer.captureAWSv3Client(client);
}
