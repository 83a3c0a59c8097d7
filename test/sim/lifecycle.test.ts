/**
 * The simulated Auto Scaling lifecycle hooks behave like Auto Scaling: an instance launched
 * through a launch hook runs in EC2 but waits in Pending:Wait until the hook is answered or
 * times out; scale-in through a terminate hook waits in Terminating:Wait.
 */
import { simDeps } from '../../lab/sim';

const ID = 'i-0123456789abcdef0';
const where = { account: '123456789012', region: 'eu-west-1' };

function world(defaultResult: 'ABANDON' | 'CONTINUE' = 'ABANDON') {
  const sim = simDeps();
  sim.fleet.addAutoScalingGroup({ name: 'web', hooks: { launch: 'adjoin-launch', terminate: 'adjoin-terminate' }, heartbeatTimeoutSeconds: 600, defaultResult });
  return sim;
}

describe('SimFleet Auto Scaling lifecycle hooks', () => {
  test('CONTINUE puts a waiting instance InService; a second answer finds nothing pending', async () => {
    // Prepare
    const sim = world();
    const { instance, action } = sim.fleet.launchInGroup('web', { instanceId: ID });
    const fleet = sim.fleetFor(where);
    // Act
    const waiting = instance.lifecycleState;
    const first = await fleet.completeLifecycleAction(action!, 'CONTINUE');
    const again = await fleet.completeLifecycleAction(action!, 'ABANDON');
    // Assess
    expect(waiting).toBe('Pending:Wait');
    expect(await fleet.describeInstance(ID)).toMatchObject({ state: 'running' });
    expect([first, again]).toEqual([true, false]);
    expect(sim.fleet.instance(ID)).toMatchObject({ state: 'running', lifecycleState: 'InService' });
  });

  test('ABANDON terminates the launching instance', async () => {
    // Prepare
    const sim = world();
    const { action } = sim.fleet.launchInGroup('web', { instanceId: ID });
    // Act
    await sim.fleetFor(where).completeLifecycleAction(action!, 'ABANDON');
    // Assess
    expect(sim.fleet.instance(ID)).toMatchObject({ state: 'terminated', lifecycleState: 'Terminated' });
  });

  test('the heartbeat timeout takes the default result; a heartbeat extends it', async () => {
    // Prepare
    const sim = world('ABANDON');
    const { action } = sim.fleet.launchInGroup('web', { instanceId: ID });
    const fleet = sim.fleetFor(where);
    // Act
    sim.clock.advance(500);
    const beat = await fleet.recordLifecycleHeartbeat(action!);
    sim.clock.advance(500); // 1000 s after launch, 500 s after the heartbeat
    const stillPending = sim.fleet.pendingLifecycleActions().length;
    sim.clock.advance(100);
    const late = await fleet.completeLifecycleAction(action!, 'CONTINUE');
    // Assess
    expect(beat).toBe(true);
    expect(stillPending).toBe(1);
    expect(late).toBe(false);
    expect(sim.fleet.lifecycleActions[0]?.answer).toBe('timeout');
    expect(sim.fleet.instance(ID)?.state).toBe('terminated');
  });

  test('scale-in waits in Terminating:Wait, then terminates whatever the answer', async () => {
    // Prepare
    const sim = world();
    const { action: launch } = sim.fleet.launchInGroup('web', { instanceId: ID });
    const fleet = sim.fleetFor(where);
    await fleet.completeLifecycleAction(launch!, 'CONTINUE');
    // Act
    const action = sim.fleet.scaleIn(ID);
    const waiting = sim.fleet.instance(ID)?.lifecycleState;
    await fleet.completeLifecycleAction(action!, 'CONTINUE');
    // Assess
    expect(action).toMatchObject({ lifecycleHookName: 'adjoin-terminate', transition: 'terminate' });
    expect(waiting).toBe('Terminating:Wait');
    expect(sim.fleet.instance(ID)).toMatchObject({ state: 'terminated', lifecycleState: 'Terminated' });
  });

  test('a wrong token is not pending, and another account does not see the group', async () => {
    // Prepare
    const sim = world();
    const { action } = sim.fleet.launchInGroup('web', { instanceId: ID });
    // Act / Assess
    await expect(sim.fleetFor(where).completeLifecycleAction({ ...action!, lifecycleActionToken: '00000000-0000-4000-8000-000000000000' }, 'CONTINUE')).resolves.toBe(false);
    await expect(sim.fleetFor({ ...where, account: '999999999999' }).completeLifecycleAction(action!, 'CONTINUE')).rejects.toThrow(/Group web not found/);
    expect(sim.fleet.instance(ID)?.lifecycleState).toBe('Pending:Wait');
  });
});
