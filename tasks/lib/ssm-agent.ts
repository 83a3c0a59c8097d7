/**
 * "Wait for SSM Online": the instance's SSM agent must be Online before a command is sent.
 * Not yet Online → SsmAgentNotOnline (retried by the state machine up to the deadline). Instance
 * gone (tasks/lib/gone.ts) → InstanceGone (compensation). No AWS or LDAP import: ports only.
 */
import type { CheckSsmAgentInput, CheckSsmAgentOutput } from './contracts';
import type { Deps } from './deps';
import { SsmAgentNotOnline } from './errors';
import { assertNotGone } from './gone';

export async function checkSsmAgent(input: CheckSsmAgentInput, deps: Deps): Promise<CheckSsmAgentOutput> {
  const { instanceId } = input.instance;
  const fleet = deps.fleetFor(input.instance);
  // Online answers everything (one call); only an agent not Online needs EC2's word on the instance.
  const ping = await fleet.ssmPingStatus(instanceId);
  if (ping === 'Online') return { pingStatus: 'Online' };
  const info = await assertNotGone(fleet, instanceId);
  throw new SsmAgentNotOnline(
    `SSM agent of ${instanceId} is not Online (ping status ${ping}, instance ${info.state}). Check: the SSM agent is installed and ` +
      'running; the instance profile grants AmazonSSMManagedInstanceCore; the instance can reach the SSM endpoints ' +
      '(ssm, ssmmessages, ec2messages) through a NAT/internet route or VPC interface endpoints, with HTTPS allowed by its security group.',
  );
}
