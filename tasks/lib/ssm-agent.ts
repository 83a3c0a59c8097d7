/**
 * "Wait for SSM Online": the instance's SSM agent must be Online before a command is sent.
 * One invocation checks every ~5 s (jittered) for up to a bounded time (tasks/lib/poll.ts), then
 * throws SsmAgentNotOnline (retried by the state machine up to the deadline). Instance gone
 * (tasks/lib/gone.ts; asked on the last check of each invocation, ~once a minute) → InstanceGone
 * (compensation). No AWS or LDAP import: ports only.
 */
import type { CheckSsmAgentInput, CheckSsmAgentOutput } from './contracts';
import type { Deps } from './deps';
import { SsmAgentNotOnline } from './errors';
import { assertNotGone } from './gone';
import { InLambdaWait, pollWithin, type Invocation } from './poll';
import type { PingStatus } from './ports';

export async function checkSsmAgent(input: CheckSsmAgentInput, deps: Deps, invocation: Invocation = {}): Promise<CheckSsmAgentOutput> {
  const { instanceId } = input.instance;
  const fleet = deps.fleetFor(input.instance);
  let ping: PingStatus | undefined;
  let state: string | undefined;
  const stillWaiting = (detail: string): SsmAgentNotOnline =>
    new SsmAgentNotOnline(
      `SSM agent of ${instanceId} is not Online (ping status ${ping ?? 'unknown'}, instance ${state ?? 'unknown'}; ${detail}). Check: the SSM agent is installed and ` +
        'running; the instance profile grants AmazonSSMManagedInstanceCore; the instance can reach the SSM endpoints ' +
        '(ssm, ssmmessages, ec2messages) through a NAT/internet route or VPC interface endpoints, with HTTPS allowed by its security group.',
    );
  return pollWithin(deps.clock, invocation, { intervalSeconds: InLambdaWait.ssmIntervalSeconds, stillWaiting }, async ({ last }) => {
    // Online answers everything (one call); an agent not Online needs EC2's word on the instance,
    // asked on the invocation's last check only (DescribeInstances is shared by every join).
    ping = await fleet.ssmPingStatus(instanceId);
    if (ping === 'Online') return { pingStatus: 'Online' };
    if (last) state = (await assertNotGone(fleet, instanceId)).state;
    return undefined;
  });
}
