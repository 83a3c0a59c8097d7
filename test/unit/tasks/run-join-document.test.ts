import { JoinCommandFailed, AwsRefused, InstanceGone, Throttled } from '../../../tasks/lib/errors';
import { runJoinDocument } from '../../../tasks/lib/commands';
import { makeHandler as makeJoinHandler } from '../../../tasks/run-join-document';
import { instance, INSTANCE, NOW, prepared, world, failedJoin, runInput } from '../../fakes';

describe('Run join document', () => {
  it('sends the join document with the secret by reference only', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await runJoinDocument(runInput, w.deps);
    // Assess
    expect(out).toEqual({ commandId: 'cmd-1', document: 'join', sentAt: NOW.toISOString(), redriveCount: 0 });
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
          DomainController: '-',
        },
      },
    ]);
  });

  it.each([undefined, {}, null])('treats previous %p as "no previous command"', async (previous) => {
    const w = world();
    const handler = makeJoinHandler(() => Promise.resolve(w.deps));
    await expect(handler({ ...runInput, previous })).resolves.toMatchObject({ commandId: 'cmd-1' });
  });

  it('throws JoinCommandFailed with the output when the previous command of this round failed', async () => {
    const w = world();
    const err = await runJoinDocument({ ...runInput, previous: failedJoin }, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinCommandFailed);
    expect((err as Error).message).toMatch(/exit code 3/);
    expect((err as Error).message).toContain("Couldn't authenticate as machine account");
    expect(w.fleet.sent).toEqual([]);
  });

  it('sends anew after a redrive (previous failure belongs to an earlier round)', async () => {
    const w = world();
    const out = await runJoinDocument({ ...runInput, redriveCount: 1, previous: failedJoin }, w.deps);
    expect(out.redriveCount).toBe(1);
    expect(w.fleet.sent).toHaveLength(1);
  });

  it('turns a refused send to a gone instance into InstanceGone', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance({ state: 'terminated' }));
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidInstanceId');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(InstanceGone);
  });

  it('keeps a refused send to a live instance as it is', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidDocument');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(AwsRefused);
  });

  it('passes throttling through untouched, without an extra describe', async () => {
    const w = world();
    w.fleet.sendError = new Throttled('SSM SendCommand failed: ThrottlingException');
    await expect(runJoinDocument(runInput, w.deps)).rejects.toThrow(Throttled);
    expect(w.fleet.calls.some((c) => c[0] === 'describeInstance')).toBe(false);
  });

  it('sends the rfc2307 mapping with an empty domain SID', async () => {
    const w = world();
    w.deps.settings.directory.idMapping = { mode: 'rfc2307' };
    await runJoinDocument(runInput, w.deps);
    expect(w.fleet.sent[0]?.parameters).toMatchObject({ IdMapping: 'rfc2307', DomainSid: '' });
  });
});
