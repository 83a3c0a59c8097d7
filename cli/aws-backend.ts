/**
 * The AWS target: Step Functions for executions, CloudFormation for the state machine ARNs
 * (outputs of the deployed stack), EC2 for instance status. Standard credential and Region
 * chain; every client uses the SDK's adaptive retry, so throttling slows us down instead of
 * failing. Every listing is paginated and bounded by --since / --limit and a page cap.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import type {
  Backend,
  ExecutionDetail,
  ExecutionSummary,
  InstanceStatus,
  ListQuery,
  RedriveResult,
  StartRequest,
  StartResult,
  Workflow,
} from './backend';
import { Workflows } from './backend';
import { mapLimit } from './concurrency';
import { ec2StateEvent, eventStateFor, executionName, instanceFromInput, instanceFromName } from './ec2-event';
import { classify, failed, notFound, usage } from './exit';
import { buildTimeline, parseJson, type Timeline } from './timeline';

/** CloudFormation output keys of the deployed stack (infra/ must export exactly these). */
export const StackOutputKeys: Record<Workflow, string> = {
  join: 'JoinStateMachineArn',
  leave: 'LeaveStateMachineArn',
  reconcile: 'ReconcileStateMachineArn',
};

export interface AwsClients {
  sfn: SFNClient;
  cloudFormation: CloudFormationClient;
  ec2: EC2Client;
}

export interface AwsBackendOptions {
  region?: string;
  profile?: string;
  stackName: string;
  /** --join-arn / --leave-arn / --reconcile-arn: used instead of the stack's outputs. */
  arns: Partial<Record<Workflow, string>>;
  statusPrefix: string;
  /** Clients to use (tests); otherwise built from region/profile with adaptive retry. */
  clients?: AwsClients;
  /** Parallel DescribeExecution / GetExecutionHistory calls when listing. */
  concurrency?: number;
  /** Pages of ListExecutions read per state machine, at most. */
  maxPages?: number;
  now?: () => Date;
}

const PAGE = 100;

export function makeAwsClients(region: string | undefined, profile: string | undefined): AwsClients {
  const common = { region, profile, retryMode: 'adaptive', maxAttempts: 8 };
  return { sfn: new SFNClient(common), cloudFormation: new CloudFormationClient(common), ec2: new EC2Client(common) };
}

export class AwsBackend implements Backend {
  private readonly clients: AwsClients;
  private readonly concurrency: number;
  private readonly maxPages: number;
  private readonly now: () => Date;
  private arnsPromise?: Promise<Partial<Record<Workflow, string>>>;

  constructor(private readonly options: AwsBackendOptions) {
    this.clients = options.clients ?? makeAwsClients(options.region, options.profile);
    this.concurrency = options.concurrency ?? 8;
    this.maxPages = options.maxPages ?? 50;
    this.now = options.now ?? (() => new Date());
  }

  describeTarget(): string {
    const region = this.options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    return `aws${region ? ` ${region}` : ''} (stack ${this.options.stackName})`;
  }

  // ---- state machines ---------------------------------------------------------------------

  /** The ARNs of the three state machines: flags first, then the stack's outputs. */
  stateMachineArns(): Promise<Partial<Record<Workflow, string>>> {
    this.arnsPromise ??= this.resolveArns();
    return this.arnsPromise;
  }

  private async resolveArns(): Promise<Partial<Record<Workflow, string>>> {
    const given = this.options.arns;
    if (Workflows.every((w) => given[w] !== undefined)) return { ...given };
    const stackName = this.options.stackName;
    try {
      const out = await this.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
      const outputs = out.Stacks?.[0]?.Outputs ?? [];
      const fromStack: Partial<Record<Workflow, string>> = {};
      for (const w of Workflows) {
        const value = outputs.find((o) => o.OutputKey === StackOutputKeys[w])?.OutputValue;
        if (value) fromStack[w] = value;
      }
      return { ...fromStack, ...given };
    } catch (err) {
      const f = classify(err);
      if (f.exitCode === 3 && Object.keys(given).length > 0) return { ...given };
      if (f.exitCode === 3) {
        throw notFound(
          `Stack ${JSON.stringify(stackName)} not found.`,
          'Deploy it, pass --stack NAME, or give the state machines with --join-arn/--leave-arn/--reconcile-arn.',
        );
      }
      throw f;
    }
  }

  private async arnFor(workflow: Workflow): Promise<string> {
    const arn = (await this.stateMachineArns())[workflow];
    if (!arn) {
      throw notFound(
        `No ${workflow} state machine: stack ${JSON.stringify(this.options.stackName)} has no output ${StackOutputKeys[workflow]}.`,
        `Pass --${workflow}-arn ARN.`,
      );
    }
    return arn;
  }

  private async workflowOf(stateMachineArn: string | undefined, name?: string): Promise<Workflow> {
    let arns: Partial<Record<Workflow, string>> = {};
    try {
      arns = await this.stateMachineArns();
    } catch {
      // The stack is optional when the user passes an execution ARN: fall back to the names.
    }
    const byArn = Workflows.find((w) => arns[w] !== undefined && arns[w] === stateMachineArn);
    if (byArn) return byArn;
    const text = `${stateMachineArn ?? ''} ${name ?? ''}`.toLowerCase();
    return Workflows.find((w) => text.includes(w)) ?? 'join';
  }

  // ---- executions -------------------------------------------------------------------------

  async listExecutions(query: ListQuery): Promise<ExecutionSummary[]> {
    const arns = await this.stateMachineArns();
    const workflows = query.workflow ? [query.workflow] : Workflows.filter((w) => arns[w] !== undefined);
    if (query.workflow) await this.arnFor(query.workflow);
    const perMachine = await Promise.all(workflows.map((w) => this.scan(w, arns[w] as string, query)));
    let items = perMachine.flat().sort((a, b) => b.startDate.getTime() - a.startDate.getTime());

    if (query.instanceId) {
      // Newest first, a batch at a time, until --limit executions of this instance are found.
      const found: ExecutionSummary[] = [];
      const batch = this.concurrency * 4;
      for (let i = 0; i < items.length && found.length < query.limit; i += batch) {
        const slice = items.slice(i, i + batch);
        await this.fillInstances(slice);
        found.push(...slice.filter((e) => e.instanceId === query.instanceId));
      }
      items = found;
    }
    items = items.slice(0, query.limit);
    if (!query.instanceId) await this.fillInstances(items);
    await this.fillFailedStates(items);
    return items;
  }

  /** One state machine's executions, newest first, bounded by --since, --limit and the page cap. */
  private async scan(workflow: Workflow, stateMachineArn: string, query: ListQuery): Promise<ExecutionSummary[]> {
    // Filtering by instance reads more than --limit (the instance is known only per execution).
    const want = query.instanceId ? Math.max(query.limit * 20, 500) : query.limit;
    const items: ExecutionSummary[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < this.maxPages; page++) {
      const out = await this.clients.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn,
          statusFilter: query.status,
          maxResults: Math.min(PAGE, Math.max(1, want - items.length)),
          nextToken,
        }),
      );
      let reachedSince = false;
      for (const e of out.executions ?? []) {
        if (query.since && e.startDate && e.startDate < query.since) {
          reachedSince = true;
          break;
        }
        items.push(summaryOf(workflow, e));
      }
      nextToken = out.nextToken;
      if (reachedSince || !nextToken || items.length >= want) break;
    }
    return items.slice(0, want);
  }

  /** The instance of each execution: from its name when ours, else from its input. */
  private async fillInstances(items: ExecutionSummary[]): Promise<void> {
    const unknown = items.filter((i) => i.instanceId === undefined && i.workflow !== 'reconcile');
    await mapLimit(unknown, this.concurrency, async (item) => {
      const out = await this.clients.sfn.send(new DescribeExecutionCommand({ executionArn: item.id }));
      item.instanceId = instanceFromInput(parseJson(out.input));
    });
  }

  /** The state each failed execution failed in, from the tail of its history. */
  private async fillFailedStates(items: ExecutionSummary[]): Promise<void> {
    const ended = items.filter((i) => i.status === 'FAILED' || i.status === 'TIMED_OUT' || i.status === 'ABORTED');
    await mapLimit(ended, this.concurrency, async (item) => {
      const out = await this.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: item.id, reverseOrder: true, maxResults: 100, includeExecutionData: false }),
      );
      const t = buildTimeline(out.events ?? []);
      item.failedState = t.failedState;
      item.error = t.end?.error ?? item.error;
    });
  }

  async describe(ref: string): Promise<ExecutionDetail> {
    const out = await this.describeRaw(ref);
    const workflow = await this.workflowOf(out.stateMachineArn, out.name);
    const input = parseJson(out.input);
    const name = out.name ?? ref;
    return {
      id: out.executionArn ?? ref,
      name,
      workflow,
      status: out.status ?? 'RUNNING',
      startDate: out.startDate ?? new Date(0),
      stopDate: out.stopDate,
      instanceId: instanceFromName(name) ?? instanceFromInput(input),
      error: out.error,
      cause: out.cause,
      input,
      output: parseJson(out.output),
      redriveCount: out.redriveCount,
      redriveDate: out.redriveDate,
      redriveStatus: out.redriveStatus,
      redriveStatusReason: out.redriveStatusReason,
    };
  }

  /** By ARN, or by name looked up in each of our state machines. */
  private async describeRaw(ref: string): Promise<DescribeExecutionOutput> {
    if (ref.startsWith('arn:')) {
      if (!/^arn:[\w-]+:states:[\w-]+:\d{12}:(execution|express):/.test(ref)) throw usage(`Not an execution ARN: ${ref}`);
      try {
        return await this.clients.sfn.send(new DescribeExecutionCommand({ executionArn: ref }));
      } catch (err) {
        const f = classify(err);
        if (f.exitCode === 3) throw notFound(`No execution ${ref}`);
        throw f;
      }
    }
    if (!/^[\w-]{1,80}$/.test(ref)) throw usage(`Not an execution name or ARN: ${JSON.stringify(ref)}`);
    const arns = await this.stateMachineArns();
    for (const w of Workflows) {
      const sm = arns[w];
      if (!sm) continue;
      const executionArn = `${sm.replace(':stateMachine:', ':execution:')}:${ref}`;
      try {
        return await this.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      } catch (err) {
        const f = classify(err);
        if (f.exitCode !== 3) throw f;
      }
    }
    throw notFound(`No execution named ${JSON.stringify(ref)} in the join, leave or reconcile state machine.`, 'List them with `adjoin executions`.');
  }

  async timeline(ref: string): Promise<{ execution: ExecutionDetail; timeline: Timeline }> {
    const execution = await this.describe(ref);
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    // Standard executions hold at most 25,000 events: 25 pages of 1,000.
    for (let page = 0; page < 30; page++) {
      const out = await this.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: execution.id, maxResults: 1000, includeExecutionData: true, nextToken }),
      );
      events.push(...(out.events ?? []));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    const timeline = buildTimeline(events);
    execution.failedState = timeline.failedState;
    return { execution, timeline };
  }

  async redrive(ref: string): Promise<RedriveResult> {
    const execution = await this.describe(ref);
    try {
      const out = await this.clients.sfn.send(new RedriveExecutionCommand({ executionArn: execution.id, clientToken: randomUUID() }));
      return { id: execution.id, name: execution.name, redriveDate: out.redriveDate ?? this.now() };
    } catch (err) {
      const e = err as { name?: string; message?: string };
      if (e.name === 'ExecutionNotRedrivable') throw failed(`Step Functions refused to redrive ${execution.name}: ${e.message ?? 'ExecutionNotRedrivable'}`);
      throw classify(err);
    }
  }

  async start(request: StartRequest): Promise<StartResult> {
    const stateMachineArn = await this.arnFor(request.workflow);
    const arnParts = stateMachineArn.split(':');
    const partition = arnParts[1] ?? 'aws';
    let input: unknown;
    if (request.workflow === 'reconcile') {
      input = request.dryRun ? { dryRun: true } : {};
    } else {
      if (!request.instanceId) throw usage(`${request.workflow} needs an instance ID`);
      const region = request.region ?? (await this.clients.sfn.config.region());
      const account = request.account ?? arnParts[4];
      if (!account) throw usage('Cannot tell the account of the instance: pass --account');
      input = ec2StateEvent({ instanceId: request.instanceId, state: eventStateFor(request.workflow), account, region, partition, time: this.now() });
    }
    const name = executionName(request.workflow, request.instanceId, this.now());
    const out = await this.clients.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return {
      input,
      execution: {
        id: out.executionArn ?? '',
        name,
        workflow: request.workflow,
        status: 'RUNNING',
        startDate: out.startDate ?? this.now(),
        instanceId: request.instanceId,
      },
    };
  }

  async instanceStatus(instanceId: string, options: { executions: number }): Promise<InstanceStatus> {
    const prefix = this.options.statusPrefix;
    const status: InstanceStatus = { instanceId, found: false, tags: {}, statusTags: {}, statusPrefix: prefix, executions: [] };
    try {
      const out = await this.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
      if (instance) {
        status.found = true;
        status.state = instance.State?.Name;
        status.platform = instance.Platform === 'Windows' ? 'windows' : (instance.PlatformDetails ?? 'linux');
        status.privateDnsName = instance.PrivateDnsName || undefined;
        status.launchTime = instance.LaunchTime;
        for (const t of instance.Tags ?? []) if (t.Key !== undefined) status.tags[t.Key] = t.Value ?? '';
      }
    } catch (err) {
      const f = classify(err);
      if (f.exitCode !== 3) throw f;
    }
    for (const [k, v] of Object.entries(status.tags)) if (k.startsWith(prefix)) status.statusTags[k] = v;
    const since = new Date(this.now().getTime() - 90 * 86400_000);
    let arns: Partial<Record<Workflow, string>>;
    try {
      arns = await this.stateMachineArns();
    } catch (err) {
      // No stack: still show what EC2 says; there are no executions to list.
      if (classify(err).exitCode === 3) return status;
      throw err;
    }
    const executions: ExecutionSummary[] = [];
    for (const w of ['join', 'leave'] as const) {
      if (arns[w]) executions.push(...(await this.listExecutions({ workflow: w, instanceId, since, limit: options.executions })));
    }
    status.executions = executions.sort((a, b) => b.startDate.getTime() - a.startDate.getTime()).slice(0, options.executions);
    return status;
  }
}

function summaryOf(workflow: Workflow, e: ExecutionListItem): ExecutionSummary {
  const name = e.name ?? '';
  return {
    id: e.executionArn ?? '',
    name,
    workflow,
    status: e.status ?? 'RUNNING',
    startDate: e.startDate ?? new Date(0),
    stopDate: e.stopDate,
    instanceId: workflow === 'reconcile' ? undefined : instanceFromName(name),
    redriveCount: e.redriveCount,
  };
}
