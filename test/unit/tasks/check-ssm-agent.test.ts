import { makeHandler } from '../../../tasks/check-ssm-agent';
import { checkSsmAgent } from '../../../tasks/lib/ssm-agent';
import { InstanceGone, SsmAgentNotOnline } from '../../../tasks/lib/errors';
import { instance, INSTANCE, proceed, world } from '../../fakes';


describe('Wait for SSM Online', () => {
  it('passes when the agent is Online', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    // Act / Assess
    await expect(checkSsmAgent({ instance: proceed }, w.deps)).resolves.toEqual({ pingStatus: 'Online' });
  });

  it('throws SsmAgentNotOnline with what to check', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.ping = 'ConnectionLost';
    // Act
    const err = await checkSsmAgent({ instance: proceed }, w.deps).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(SsmAgentNotOnline);
    expect((err as Error).message).toMatch(/ConnectionLost/);
    expect((err as Error).message).toMatch(/AmazonSSMManagedInstanceCore/);
    expect((err as Error).message).toMatch(/VPC interface endpoints/);
  });

  it.each([undefined, 'terminated', 'shutting-down'] as const)('throws InstanceGone when the agent is not Online and the instance is %p', async (state) => {
    // Prepare
    const w = world();
    if (state) w.fleet.instances.set(INSTANCE, instance({ state }));
    w.fleet.ping = 'ConnectionLost';
    // Act / Assess
    await expect(checkSsmAgent({ instance: proceed }, w.deps)).rejects.toThrow(InstanceGone);
    expect(w.fleet.calls.map((c) => c[0])).toEqual(['ssmPingStatus', 'describeInstance']);
  });

  it('an Online agent costs one call: no DescribeInstances (it matters in a burst)', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    await checkSsmAgent({ instance: proceed }, w.deps);
    expect(w.fleet.calls.map((c) => c[0])).toEqual(['ssmPingStatus']);
  });

  it('handler: error name is what Step Functions routes on', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.ping = 'NotRegistered';
    // Act / Assess
    await expect(makeHandler(() => Promise.resolve(w.deps))({ instance: proceed })).rejects.toMatchObject({ name: 'SsmAgentNotOnline' });
  });
});
