import { makeHandler } from '../../../tasks/check-command';
import { checkCommand } from '../../../tasks/lib/commands';
import { CommandTimedOut, InstanceGone } from '../../../tasks/lib/errors';
import type { CommandStatus } from '../../../tasks/lib/ports';
import { instance, INSTANCE, NOW, world } from '../../fakes';

const ref = { instanceId: INSTANCE, account: '123456789012', region: 'eu-west-1' };
const command = { commandId: 'cmd-1', document: 'join' as const, sentAt: NOW.toISOString(), redriveCount: 2 };

describe('Check command', () => {
  it.each([
    ['Pending', 'running'],
    ['InProgress', 'running'],
    ['Delayed', 'running'],
    ['Success', 'succeeded'],
    ['Failed', 'failed'],
    ['TimedOut', 'failed'],
    ['Cancelled', 'failed'],
  ] as [CommandStatus, string][])('maps %s to %s', async (status, state) => {
    const w = world();
    w.fleet.commands.set('cmd-1', { status, stdout: 'out', stderr: '', ...(status === 'Failed' ? { exitCode: 3 } : {}) });
    const out = await checkCommand({ instance: ref, command }, w.deps);
    expect(out).toEqual({
      commandId: 'cmd-1',
      document: 'join',
      redriveCount: 2,
      state,
      status,
      ...(status === 'Failed' ? { exitCode: 3 } : {}),
      output: 'out',
    });
  });

  it('throws CommandTimedOut when still running past the deadline', async () => {
    // Prepare
    const w = world();
    w.fleet.commands.set('cmd-1', { status: 'InProgress', stdout: 'step 3', stderr: '' });
    w.clock.t = new Date(NOW.getTime() + 601_000);
    // Act
    const err = await checkCommand({ instance: ref, command }, w.deps).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(CommandTimedOut);
    expect((err as Error).message).toMatch(/601 s after it was sent \(deadline 600 s\)/);
  });

  it('reports a finished command even past the deadline (a redrive re-checks it)', async () => {
    // Prepare
    const w = world();
    w.fleet.commands.set('cmd-1', { status: 'Success', stdout: '', stderr: '' });
    w.clock.t = new Date(NOW.getTime() + 3_600_000);
    // Act / Assess
    await expect(checkCommand({ instance: ref, command }, w.deps)).resolves.toMatchObject({ state: 'succeeded' });
  });

  it('throws InstanceGone for an undeliverable command to a gone instance', async () => {
    // Prepare
    const w = world();
    w.fleet.commands.set('cmd-1', { status: 'Undeliverable', stdout: '', stderr: '' });
    // Act / Assess
    await expect(checkCommand({ instance: ref, command }, w.deps)).rejects.toThrow(InstanceGone);
  });

  it('reports failed for an undeliverable command to a live instance', async () => {
    // Prepare
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.commands.set('cmd-1', { status: 'Terminated', stdout: '', stderr: '' });
    // Act / Assess
    await expect(checkCommand({ instance: ref, command }, w.deps)).resolves.toMatchObject({ state: 'failed', status: 'Terminated' });
  });

  it('bounds and scrubs the output', async () => {
    // Prepare
    const w = world();
    w.fleet.commands.set('cmd-1', { status: 'Failed', stdout: `${'x'.repeat(10_000)}\npassword: hunter2hunter2`, stderr: 'boom' });
    // Act
    const out = await checkCommand({ instance: ref, command }, w.deps);
    // Assess
    expect(Buffer.byteLength(out.output)).toBeLessThanOrEqual(2051);
    expect(out.output).not.toContain('hunter2');
    expect(out.output).toMatch(/boom$/);
  });

  it('handler: refuses a malformed command reference', async () => {
    // Prepare
    const w = world();
    // Act / Assess
    await expect(makeHandler(() => Promise.resolve(w.deps))({ instance: ref, command: { ...command, commandId: 'a b' } })).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});

describe('Check command: the state it logs as', () => {
  it.each([
    ['join', 'Check join command'],
    ['verify', 'Check verification'],
  ] as const)('a %s command is checked by "%s" (workflows/join.ts)', async (document, step) => {
    // Prepare
    const w = world();
    const keys = jest.spyOn(w.deps.logger, 'appendKeys');
    const handler = makeHandler(() => Promise.resolve(w.deps));
    // Act
    await handler({ instance: ref, command: { ...command, document } });
    // Assess
    expect(keys.mock.calls.map(([k]) => k)).toContainEqual({ step });
    expect(keys.mock.calls.flatMap(([k]) => (k.step === undefined ? [] : [k.step]))).toEqual([step]);
  });
});

