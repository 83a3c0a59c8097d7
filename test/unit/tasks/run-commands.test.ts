import { JoinCommandFailed, AwsRefused, InstanceGone, VerificationFailed, Throttled } from '../../../tasks/lib/errors';
import type { CheckCommandOutput } from '../../../tasks/lib/contracts';
import { makeHandler as makeJoinHandler, runJoinDocument } from '../../../tasks/run-join-document';
import { verifyNss } from '../../../tasks/verify-nss';
import { instance, INSTANCE, NOW, prepared, proceed, world } from '../fakes';

const base = { instance: proceed, computer: prepared, redriveCount: 0, executionName: 'exec-1' };
const failed: CheckCommandOutput = {
  commandId: 'cmd-0',
  document: 'join',
  redriveCount: 0,
  state: 'failed',
  status: 'Failed',
  exitCode: 3,
  output: "adcli: Couldn't authenticate as machine account",
};

describe('Run join document', () => {
  it('sends the join document with the secret by reference only', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await runJoinDocument(base, w.deps);
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
    await expect(handler({ ...base, previous })).resolves.toMatchObject({ commandId: 'cmd-1' });
  });

  it('throws JoinCommandFailed with the output when the previous command of this round failed', async () => {
    const w = world();
    const err = await runJoinDocument({ ...base, previous: failed }, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinCommandFailed);
    expect((err as Error).message).toMatch(/exit code 3/);
    expect((err as Error).message).toContain("Couldn't authenticate as machine account");
    expect(w.fleet.sent).toEqual([]);
  });

  it('sends anew after a redrive (previous failure belongs to an earlier round)', async () => {
    const w = world();
    const out = await runJoinDocument({ ...base, redriveCount: 1, previous: failed }, w.deps);
    expect(out.redriveCount).toBe(1);
    expect(w.fleet.sent).toHaveLength(1);
  });

  it('turns a refused send to a gone instance into InstanceGone', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance({ state: 'terminated' }));
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidInstanceId');
    await expect(runJoinDocument(base, w.deps)).rejects.toThrow(InstanceGone);
  });

  it('keeps a refused send to a live instance as it is', async () => {
    const w = world();
    w.fleet.instances.set(INSTANCE, instance());
    w.fleet.sendError = new AwsRefused('SSM SendCommand failed: InvalidDocument');
    await expect(runJoinDocument(base, w.deps)).rejects.toThrow(AwsRefused);
  });

  it('passes throttling through untouched, without an extra describe', async () => {
    const w = world();
    w.fleet.sendError = new Throttled('SSM SendCommand failed: ThrottlingException');
    await expect(runJoinDocument(base, w.deps)).rejects.toThrow(Throttled);
    expect(w.fleet.calls.some((c) => c[0] === 'describeInstance')).toBe(false);
  });

  it('sends the rfc2307 mapping with an empty domain SID', async () => {
    const w = world();
    w.deps.settings.directory.idMapping = { mode: 'rfc2307' };
    await runJoinDocument(base, w.deps);
    expect(w.fleet.sent[0]?.parameters).toMatchObject({ IdMapping: 'rfc2307', DomainSid: '' });
  });
});

describe('Verify NSS', () => {
  it('sends the verify document with the probe users', async () => {
    const w = world();
    const out = await verifyNss(base, w.deps);
    expect(out.document).toBe('verify');
    expect(w.fleet.sent[0]).toMatchObject({
      document: 'verify',
      parameters: { DomainName: 'corp.example.com', ProbeUsers: 'alice,bob', LoginGroups: 'linux-admins' },
    });
  });

  it('throws VerificationFailed with the getent/id output', async () => {
    const w = world();
    const previous = { ...failed, document: 'verify' as const, output: 'getent passwd alice: not found' };
    const err = await verifyNss({ ...base, previous }, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationFailed);
    expect((err as Error).message).toContain('getent passwd alice: not found');
  });
});
