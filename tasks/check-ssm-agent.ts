/**
 * "Wait for SSM Online": the instance's SSM agent must be Online before a command is sent.
 * Not yet Online → SsmAgentNotOnline (retried by the state machine up to the deadline, then the
 * execution fails here, redrivable). Instance gone → InstanceGone (compensation).
 */
import { defaultDeps } from './adapters/default-deps';
import type { CheckSsmAgentOutput, ReadInstanceOutput } from './lib/contracts';
import type { Deps, DepsProvider } from './lib/deps';
import { InstanceGone, SsmAgentNotOnline } from './lib/errors';
import type { Fleet, InstanceInfo } from './lib/ports';
import { makeTask } from './lib/task';
import { parseInstanceOnly } from './lib/validate';

export const isGone = (info: InstanceInfo | undefined): boolean =>
  info === undefined || info.state === 'terminated' || info.state === 'shutting-down';

/** Throws InstanceGone when EC2 no longer has the instance (or it is terminating). */
export async function assertNotGone(fleet: Fleet, instanceId: string): Promise<InstanceInfo> {
  const info = await fleet.describeInstance(instanceId);
  if (!info || isGone(info)) throw new InstanceGone(`Instance ${instanceId} is ${info ? info.state : 'unknown to EC2'}: the join is abandoned`);
  return info;
}

export async function checkSsmAgent(input: { instance: ReadInstanceOutput }, deps: Deps): Promise<CheckSsmAgentOutput> {
  const { instanceId } = input.instance;
  const fleet = deps.fleetFor(input.instance);
  const info = await assertNotGone(fleet, instanceId);
  const ping = await fleet.ssmPingStatus(instanceId);
  if (ping === 'Online') return { pingStatus: 'Online' };
  throw new SsmAgentNotOnline(
    `SSM agent of ${instanceId} is not Online (ping status ${ping}, instance ${info.state}). Check: the SSM agent is installed and ` +
      'running; the instance profile grants AmazonSSMManagedInstanceCore; the instance can reach the SSM endpoints ' +
      '(ssm, ssmmessages, ec2messages) through a NAT/internet route or VPC interface endpoints, with HTTPS allowed by its security group.',
  );
}

export const makeHandler = (deps: DepsProvider) =>
  makeTask({ workflow: 'join', step: 'Wait for SSM Online' }, deps, parseInstanceOnly, checkSsmAgent);
export const handler = makeHandler(defaultDeps);
