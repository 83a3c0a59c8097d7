/**
 * The operator's CloudWatch dashboard: how joins go (success rate, duration p50/p95), where and
 * why steps fail (StepFailed by workflow, step and error), leave and reconcile outcomes, and the
 * dead-letter queues. The metric names are the tasks' (tasks/lib/metrics.ts, tasks/lib/reconcile.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { MetricNames, MetricsNamespace, MetricsService } from '../tasks/lib/metrics';

export interface AdjoinDashboardProps {
  dashboardName: string;
  join: sfn.StateMachine;
  leave: sfn.StateMachine;
  reconcile: sfn.StateMachine;
  deadLetterQueues: sqs.IQueue[];
}

const period = Duration.minutes(5);

/** Every series of `metricName` in our namespace that has exactly these dimension keys. */
const search = (metricName: string, dimensions: string[], filter = ''): cloudwatch.MathExpression =>
  new cloudwatch.MathExpression({
    expression: `SEARCH('{${MetricsNamespace},${dimensions.join(',')}} MetricName="${metricName}"${filter}', 'Sum', ${period.toSeconds()})`,
    period,
    usingMetrics: {},
  });

export class AdjoinDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AdjoinDashboardProps) {
    super(scope, id);
    const outcome = (workflow: string, value: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: MetricsNamespace,
        metricName: MetricNames.StepOutcome,
        dimensionsMap: { service: MetricsService, Workflow: workflow, Outcome: value },
        statistic: 'Sum',
        period,
      });
    const joinRate = new cloudwatch.MathExpression({
      label: 'join success %',
      expression: '100 * joined / (joined + failed + timedOut)',
      usingMetrics: {
        joined: outcome('join', 'joined'),
        failed: props.join.metricFailed({ period, statistic: 'Sum' }),
        timedOut: props.join.metricTimedOut({ period, statistic: 'Sum' }),
      },
      period,
    });
    const duration = (stat: string) => props.join.metric('ExecutionTime', { statistic: stat, period, label: `join ${stat}` });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Join success rate (%)', left: [joinRate], leftYAxis: { min: 0, max: 100 }, width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Join duration (ms)', left: [duration('p50'), duration('p95')], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Executions',
        left: (['join', 'leave', 'reconcile'] as const).flatMap((w) => [
          props[w].metricSucceeded({ period, statistic: 'Sum', label: `${w} succeeded` }),
          props[w].metricFailed({ period, statistic: 'Sum', label: `${w} failed` }),
        ]),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Failures by state and error', left: [search(MetricNames.StepFailed, ['service', 'Workflow', 'Step', 'Error'])], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Join outcomes', left: [search(MetricNames.StepOutcome, ['service', 'Workflow', 'Outcome'], ' Workflow="join"')], width: 12 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Leave outcomes', left: [search(MetricNames.StepOutcome, ['service', 'Workflow', 'Outcome'], ' Workflow="leave"')], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Reconcile (stale, deleted, skipped, failed)',
        left: ['Stale', 'Deleted', 'Skipped', 'Failed'].map((name) => new cloudwatch.Metric({
          namespace: MetricsNamespace, metricName: name, dimensionsMap: { Workflow: 'reconcile', DryRun: 'false' }, statistic: 'Sum', period,
        })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead letters (messages waiting)',
        left: props.deadLetterQueues.map((q) => q.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' })),
        width: 8,
      }),
    );
  }
}
