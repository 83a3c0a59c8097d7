/**
 * The doctor's checks of the deployment itself, asked from the operator's side (the CLI's
 * credentials) after the check-setup report: the join-cleanup state machine exists and is ACTIVE
 * (Step Functions DescribeStateMachine), and the EventBridge rule that starts it when a join ends
 * FAILED, TIMED_OUT or ABORTED is in the stack (CloudFormation DescribeStackResources by its name)
 * and was not deleted or changed behind CloudFormation's back (DetectStackResourceDrift; when the
 * caller may not detect drift, the check says so and passes on the stack's record).
 * Without the two, a failed join keeps its one-time password and its claim until leave or reconcile.
 */
import { CloudFormationClient, DescribeStackResourcesCommand, DetectStackResourceDriftCommand } from '@aws-sdk/client-cloudformation';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { resourceNames } from '../infra/config';
import type { CheckResult } from '../tasks/lib/doctor';

export interface DeploymentClients {
  sfn: SFNClient;
  cloudFormation: CloudFormationClient;
}

/** Where the deployment lives: read from the check-setup function's ARN. */
export interface DeploymentPlace {
  partition: string;
  region: string;
  account: string;
  prefix: string;
}

const nameOf = (err: unknown): string => {
  const name = (err as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : 'Error';
};
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';
const DENIED = /AccessDenied|UnauthorizedOperation|not authorized/i;
const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail, fix: '' });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });
const WHY = 'without it, a join that fails keeps its one-time password parameter and its claim until leave or reconcile';

/** `arn:aws:lambda:eu-west-1:123456789012:function:adjoin-check-setup` → partition, Region, account. */
export function placeOfFunction(arn: string | undefined): Omit<DeploymentPlace, 'prefix'> | undefined {
  const m = /^arn:([a-z-]+):lambda:([a-z0-9-]+):(\d{12}):function:/.exec(arn ?? '');
  return m ? { partition: m[1] ?? 'aws', region: m[2] ?? '', account: m[3] ?? '' } : undefined;
}

async function cleanupMachineCheck(place: DeploymentPlace, sfn: SFNClient): Promise<CheckResult> {
  const machine = resourceNames(place.prefix).stateMachine('join-cleanup');
  const title = 'join-cleanup state machine';
  const arn = `arn:${place.partition}:states:${place.region}:${place.account}:stateMachine:${machine}`;
  try {
    const out = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    return out.status === 'ACTIVE' || out.status === undefined
      ? pass(title, `${machine} exists (${out.status ?? 'ACTIVE'})`)
      : fail(title, `${machine} is ${out.status}`, `Redeploy the stack (cdk deploy) so that ${machine} is recreated; ${WHY}.`);
  } catch (err) {
    if (nameOf(err) === 'StateMachineDoesNotExist')
      return fail(title, `no state machine ${arn}`, `Deploy the stack (cdk deploy): it creates ${machine}; ${WHY}. (Another resource prefix? pass --prefix.)`);
    if (DENIED.test(`${nameOf(err)} ${messageOf(err)}`)) return fail(title, `not allowed to describe ${machine}: ${messageOf(err)}`, 'Run the doctor with a role that may call states:DescribeStateMachine on it.');
    return fail(title, `${nameOf(err)}: ${messageOf(err)}`, 'Check the Region (--region) and the network path to Step Functions, then run the doctor again.');
  }
}

async function cleanupRuleCheck(place: DeploymentPlace, cfn: CloudFormationClient): Promise<CheckResult> {
  const rule = resourceNames(place.prefix).joinCleanupRule;
  const machine = resourceNames(place.prefix).stateMachine('join-cleanup');
  const title = 'join-cleanup rule';
  let resource;
  try {
    resource = (await cfn.send(new DescribeStackResourcesCommand({ PhysicalResourceId: rule }))).StackResources?.find((r) => r.ResourceType === 'AWS::Events::Rule');
  } catch (err) {
    if (DENIED.test(`${nameOf(err)} ${messageOf(err)}`)) return fail(title, `not allowed to read the stack: ${messageOf(err)}`, 'Run the doctor with a role that may call cloudformation:DescribeStackResources.');
    if (!/does not exist/i.test(messageOf(err))) return fail(title, `${nameOf(err)}: ${messageOf(err)}`, 'Check the Region (--region), then run the doctor again.');
  }
  if (!resource?.StackName || !resource.LogicalResourceId)
    return fail(title, `no EventBridge rule ${rule} in any stack`, `Deploy the stack (cdk deploy): it creates the rule ${rule}, which starts ${machine} when a join ends FAILED, TIMED_OUT or ABORTED; ${WHY}.`);
  const where = `${rule} in stack ${resource.StackName} (${resource.ResourceStatus ?? '?'})`;
  if (!/_COMPLETE$/.test(resource.ResourceStatus ?? '') || /^DELETE/.test(resource.ResourceStatus ?? ''))
    return fail(title, where, `Finish or roll back the stack's update (cdk deploy); ${WHY}.`);
  try {
    const drift = (await cfn.send(new DetectStackResourceDriftCommand({ StackName: resource.StackName, LogicalResourceId: resource.LogicalResourceId }))).StackResourceDrift;
    const status = drift?.StackResourceDriftStatus;
    if (status === 'DELETED')
      return fail(title, `${where}, but deleted outside CloudFormation`, `Recreate it: a deploy does not restore a resource deleted behind CloudFormation's back; destroy and redeploy the stack, or recreate ${rule} as \`cdk synth\` defines it; ${WHY}.`);
    if (status === 'MODIFIED') {
      const changed = (drift?.PropertyDifferences ?? []).map((d) => d.PropertyPath).filter(Boolean).join(', ');
      return fail(title, `${where}, changed outside CloudFormation${changed ? ` (${changed})` : ''}`, `Put it back as deployed (enable it, restore its pattern and target ${machine}), or redeploy after reverting; ${WHY}.`);
    }
    return pass(title, `${where}, ${status ?? 'drift unknown'}`);
  } catch (err) {
    // Drift detection needs more rights (events:DescribeRule too): the stack's record is then all we know.
    return pass(title, `${where}; not checked for changes outside CloudFormation (${nameOf(err)})`);
  }
}

/** The two checks, in order. */
export async function deploymentChecks(place: DeploymentPlace, clients: DeploymentClients): Promise<CheckResult[]> {
  return Promise.all([cleanupMachineCheck(place, clients.sfn), cleanupRuleCheck(place, clients.cloudFormation)]);
}
