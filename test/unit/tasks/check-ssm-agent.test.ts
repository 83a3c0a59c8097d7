import { makeHandler } from '../../../tasks/check-ssm-agent';
import { checkSsmAgent } from '../../../tasks/lib/ssm-agent';
import { InstanceGone, SsmAgentNotOnline } from '../../../tasks/lib/errors';
import { claimKey } from '../../../tasks/lib/claims';
import { WINDOWS_DEFAULTS } from '../../../tasks/lib/windows-settings';
import { instance, INSTANCE, proceed, testSettings, world } from '../../fakes';


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

  it('Windows disabled: the wait keeps nothing in the claim (the retries alone are the deadline)', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.ping = 'ConnectionLost';
    await expect(checkSsmAgent({ instance: proceed, redriveCount: 0, executionName: 'exec-1' }, w.deps)).rejects.toThrow(SsmAgentNotOnline);
    expect(w.claims.calls).toEqual([]);
  });

  it('Windows enabled: the round\'s first not-Online check is kept in the claim; past the platform\'s deadline one check, and the cause names the key', async () => {
    const settings = testSettings();
    settings.windows = { ...WINDOWS_DEFAULTS, ssmOnlineDeadlineSeconds: 1200 };
    const w = world(settings);
    const win = { ...proceed, platform: 'windows' as const };
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.ping = 'ConnectionLost';
    const key = claimKey(win);
    const t0 = Math.floor(w.clock.t.getTime() / 1000);
    await w.claims.take(key, 'exec-1', t0, 3600);
    const input = { instance: win, redriveCount: 0, executionName: 'exec-1' };

    const first = await checkSsmAgent(input, w.deps).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SsmAgentNotOnline);
    expect((first as Error).message).not.toMatch(/past its deadline/);
    expect(w.claims.item(key)).toMatchObject({ ssmWaitSince: t0, ssmRound: 0 });

    w.clock.t = new Date(w.clock.t.getTime() + 1201_000);
    w.fleet.calls.length = 0;
    const late = await checkSsmAgent(input, w.deps).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(SsmAgentNotOnline);
    expect((late as Error).message).toContain('past its deadline of 1200 s (windows.ssmOnlineDeadlineSeconds)');
    expect(w.fleet.calls.filter((c) => c[0] === 'ssmPingStatus')).toHaveLength(1);
    // A Linux instance of the same execution ends at the Linux deadline.
    const linux = await checkSsmAgent({ ...input, instance: proceed }, w.deps).catch((e: unknown) => e);
    expect((linux as Error).message).toContain(`(timings.ssmOnlineDeadlineSeconds)`);
    // A redrive (round 1) waits afresh.
    const redriven = await checkSsmAgent({ ...input, redriveCount: 1 }, w.deps).catch((e: unknown) => e);
    expect((redriven as Error).message).not.toMatch(/past its deadline/);
    expect(w.claims.item(key)).toMatchObject({ ssmRound: 1 });
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
