import { claimKey } from '../../../tasks/lib/claims';
import { runJoinDocument } from '../../../tasks/lib/commands';
import {
  AwsRefused,
  ClaimLost,
  CommandTimedOut,
  InstanceGone,
  JoinCommandFailed,
  JoinStillRunning,
  Throttled,
  VerificationFailed,
} from '../../../tasks/lib/errors';
import { markerDescription } from '../../../tasks/lib/marker';
import type { CommandStatus } from '../../../tasks/lib/ports';
import { makeHandler as makeJoinHandler } from '../../../tasks/run-join-document';
import { instance, INSTANCE, NOW, prepared, proceed, runInput, world, type TestWorld } from '../../fakes';

const KEY = claimKey(proceed);
const now = NOW.getTime() / 1000;

/** The claim as Read instance and Prepare leave it: ours, joining, prepared. */
async function claimed(w: TestWorld, patch: Parameters<TestWorld['claims']['update']>[2] = {}): Promise<void> {
  await w.claims.take(KEY, 'exec-1', now, 900);
  await w.claims.update(KEY, 'exec-1', { phase: 'prepared', dn: prepared.dn, computerName: prepared.name, ...patch });
}

describe('Run join document', () => {
  it('first call of a round: sends ONE join command (secret by reference only), records it in the claim, JoinStillRunning', async () => {
    // Prepare
    const w = world();
    await claimed(w);
    // Act
    const err = await runJoinDocument(runInput, w.deps).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(JoinStillRunning);
    expect((err as Error).message).toMatch(/cmd-1 sent/);
    expect(w.fleet.sent).toEqual([
      {
        instanceId: INSTANCE,
        document: 'join',
        comment: 'adjoin join exec-1',
        timeoutSeconds: 600,
        parameters: {
          DomainName: 'corp.example.com',
          Realm: 'CORP.EXAMPLE.COM',
          ComputerName: prepared.name,
          HostFqdn: prepared.fqdn,
          DomainControllers: '10.0.0.10,10.0.0.11',
          OneTimePassword: '{{ssm-secure:/adjoin/otp/i-0123456789abcdef0}}',
          LoginGroups: 'linux-admins',
          IdMapping: 'sid',
          DomainSid: 'S-1-5-21-1-2-3',
          ComputerOu: prepared.dn.replace(/^CN=[^,]+,/, ''),
          ProbeUsers: 'alice,bob',
          DomainController: '-',
          DynamicDns: 'false',
          SudoGroups: '-',
          SetHostname: 'false',
          SssdOptions: '-',
          Krb5Rdns: 'true',
        },
      },
    ]);
    expect(w.claims.item(KEY)).toMatchObject({ commandId: 'cmd-1', round: 0, sentAt: now, phase: 'command-sent' });
    // Prepare's one-time password is live: no reset, no new parameter.
    expect(w.fleet.calls.filter((c) => c[0] === 'putJoinSecret')).toEqual([]);
  });

  it('passes the linux.* settings as SudoGroups, SetHostname, DynamicDns, SssdOptions, Krb5Rdns', async () => {
    // Prepare
    const w = world();
    await claimed(w);
    w.deps.settings.linux = { sudoGroups: ['linux admins', 'ops'], setHostname: true, dynamicDns: true, sssdOptions: { default_shell: '/bin/zsh', ad_gpo_access_control: 'permissive' }, krb5Rdns: false };
    // Act
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinStillRunning);
    // Assess
    expect(w.fleet.sent[0]?.parameters).toMatchObject({
      DynamicDns: 'true',
      SudoGroups: 'linux admins,ops',
      SetHostname: 'true',
      SssdOptions: 'default_shell=/bin/zsh;ad_gpo_access_control=permissive',
      Krb5Rdns: 'false',
    });
  });

  it('the command ID reaches the claim even when the claims table throttles right after the send (no second command)', async () => {
    const w = world();
    await claimed(w);
    const update = w.claims.update.bind(w.claims);
    let throttles = 2;
    w.claims.update = (...args: Parameters<typeof update>) =>
      throttles-- > 0 ? Promise.reject(new Throttled('DynamoDB UpdateItem: ProvisionedThroughputExceededException')) : update(...args);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinStillRunning);
    expect(w.claims.item(KEY)?.commandId).toBe('cmd-1');
    w.fleet.commands.set('cmd-1', { status: 'InProgress', stdout: '', stderr: '' });
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinStillRunning);
    expect(w.fleet.sent).toHaveLength(1);
  });

  it.each([
    ['Pending', JoinStillRunning],
    ['InProgress', JoinStillRunning],
    ['Delayed', JoinStillRunning],
  ] as [CommandStatus, typeof JoinStillRunning][])('a command %s: JoinStillRunning, nothing sent again', async (status, error) => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status, stdout: '', stderr: '' });
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(error);
    expect(w.fleet.sent).toEqual([]);
  });

  it('a command that succeeded: the result; the claim says joined-verified', async () => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'Success', exitCode: 0, stdout: 'adjoin: verified: alice resolve', stderr: '' });
    await expect(runJoinDocument(runInput, w.deps)).resolves.toEqual({ commandId: 'cmd-7', status: 'Success', redriveCount: 0, output: 'adjoin: verified: alice resolve' });
    expect(w.claims.item(KEY)?.phase).toBe('joined-verified');
  });

  it('a failed command: JoinCommandFailed with its output; exit 7 is VerificationFailed', async () => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'Failed', exitCode: 3, stdout: '', stderr: "adcli: Couldn't authenticate as machine account" });
    const err = await runJoinDocument(runInput, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinCommandFailed);
    expect((err as Error).message).toMatch(/exit code 3/);
    expect((err as Error).message).toContain("Couldn't authenticate as machine account");

    w.fleet.commands.set('cmd-7', { status: 'Failed', exitCode: 7, stdout: 'adjoin: alice does NOT resolve after 10 attempts', stderr: '' });
    const verify = await runJoinDocument(runInput, w.deps).catch((e: unknown) => e);
    expect(verify).toBeInstanceOf(VerificationFailed);
    expect((verify as Error).message).toContain('alice does NOT resolve');
    expect(w.fleet.sent).toEqual([]);
  });

  it('still running past the deadline: CommandTimedOut', async () => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 601, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'InProgress', stdout: 'step 3', stderr: '' });
    const err = await runJoinDocument(runInput, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimedOut);
    expect((err as Error).message).toMatch(/601 s after it was sent \(deadline 600 s\)/);
  });

  it('undeliverable to a gone instance: InstanceGone; to a live one: JoinCommandFailed', async () => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'Undeliverable', stdout: '', stderr: '' });
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(InstanceGone);
    w.fleet.instances.set(INSTANCE, instance());
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(JoinCommandFailed);
  });

  it('bounds and scrubs the output', async () => {
    const w = world();
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 30, phase: 'command-sent' });
    w.fleet.commands.set('cmd-7', { status: 'Failed', exitCode: 5, stdout: `${'x'.repeat(10_000)}\npassword: hunter2hunter2`, stderr: 'boom' });
    const err = (await runJoinDocument(runInput, w.deps).catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toMatch(/boom$/);
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(2300);
  });

  it('a redrive (new round) after a failure makes a FRESH one-time password before it sends', async () => {
    // Prepare: round 0 sent and failed; the cleanup marked the claim failed
    const w = world();
    const marker = { account: proceed.account, region: proceed.region, instanceId: INSTANCE };
    const object = await w.directory.createComputer({ ou: prepared.dn.replace(/^CN=[^,]+,/, ''), name: prepared.name, fqdn: prepared.fqdn, marker, description: markerDescription(marker), password: 'old-otp' });
    await claimed(w, { commandId: 'cmd-7', round: 0, sentAt: now - 300, phase: 'command-sent', dn: object.dn });
    await w.claims.update(KEY, 'exec-1', { status: 'failed' });
    // Act
    const err = await runJoinDocument({ ...runInput, redriveCount: 1 }, w.deps).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(JoinStillRunning);
    expect(w.fleet.secrets.get(INSTANCE)).toBeDefined();
    expect(w.fleet.secrets.get(INSTANCE)).not.toBe('old-otp');
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword')).toHaveLength(1);
    expect(w.fleet.sent).toHaveLength(1);
    expect(w.claims.item(KEY)).toMatchObject({ status: 'joining', round: 1, commandId: 'cmd-1', phase: 'command-sent' });
  });

  it('a claim held by another execution: ClaimLost, nothing sent', async () => {
    const w = world();
    await w.claims.take(KEY, 'exec-0', now, 900);
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(ClaimLost);
    expect(w.fleet.sent).toEqual([]);
  });

  it('turns a refused send to a gone instance into InstanceGone; keeps it for a live one', async () => {
    const w = world();
    await claimed(w);
    w.fleet.instances.set(INSTANCE, instance({ state: 'terminated' }));
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidInstanceId');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(InstanceGone);
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidDocument');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(AwsRefused);
  });

  it('passes throttling through untouched, without an extra describe', async () => {
    const w = world();
    await claimed(w);
    w.fleet.sendError = new Throttled('SSM SendCommand failed: ThrottlingException');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(Throttled);
    expect(w.fleet.calls.some((c) => c[0] === 'describeInstance')).toBe(false);
  });

  it('sends the rfc2307 mapping with an empty domain SID', async () => {
    const w = world();
    await claimed(w);
    w.deps.settings.directory.idMapping = { mode: 'rfc2307' };
    await runJoinDocument(runInput, w.deps).catch(() => undefined);
    expect(w.fleet.sent[0]?.parameters).toMatchObject({ IdMapping: 'rfc2307', DomainSid: '' });
  });

  it('handler: refuses a malformed payload before any call', async () => {
    const w = world();
    const handler = makeJoinHandler(() => Promise.resolve(w.deps));
    await expect(handler({ ...runInput, redriveCount: -1 })).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(w.fleet.calls).toEqual([]);
    expect(w.claims.calls).toEqual([]);
  });
});
