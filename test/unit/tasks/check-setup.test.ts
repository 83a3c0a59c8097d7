import { makeHandler } from '../../../tasks/check-setup';
import type { AwsProbe, DirectoryProbe, Probe } from '../../../tasks/lib/doctor';
import { InvalidInput } from '../../../tasks/lib/errors';
import { world } from '../../fakes';

const probe: Probe = {
  resolve: () => Promise.resolve(['10.0.0.10']),
  connect: () => Promise.resolve(),
  tls: () => Promise.resolve({ authorized: true, subject: 'dc1.corp.example.com' }),
};
const directory = (bindOk: boolean): DirectoryProbe => ({
  account: () => Promise.resolve('svc-adjoin@corp.example.com'),
  bind: () => (bindOk ? Promise.resolve() : Promise.reject(new Error('bind refused'))),
  createProbe: () => Promise.resolve(),
  deleteProbe: () => Promise.resolve(),
  zoneAccess: () => Promise.resolve(undefined),
});

describe('Check setup (handler)', () => {
  it('runs the doctor with the task settings and returns the report as data (a failed check is not an error)', async () => {
    // Prepare
    const w = world();
    const handler = makeHandler(() => Promise.resolve(w.deps), () => ({ probe, directory: directory(false) }));
    // Act
    const report = await handler({ securityGroupIds: ['sg-0123456789abcdef0'] });
    // Assess
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'bind 10.0.0.10')).toMatchObject({ ok: false, detail: 'bind refused' });
    expect(report.checks.find((c) => c.name === 'TCP 10.0.0.10:636')?.ok).toBe(true);
  });

  it('checks the claims table the tasks use: ADJOIN_CLAIMS_TABLE (the generated name), else the settings’ name', async () => {
    const w = world();
    const read: string[] = [];
    const aws: AwsProbe = {
      callerIdentity: () => Promise.resolve('arn:aws:sts::123456789012:assumed-role/adjoin-check-setup-role/x'),
      describeDocument: () => Promise.resolve(),
      describeInstances: () => Promise.resolve(0),
      describeSecret: () => Promise.resolve(),
      memberRole: () => Promise.resolve(''),
      instance: () => Promise.resolve(undefined),
      readClaims: (table) => {
        read.push(table);
        return Promise.resolve();
      },
    };
    const handler = makeHandler(() => Promise.resolve(w.deps), () => ({ probe, directory: directory(true), aws }));
    const saved = process.env.ADJOIN_CLAIMS_TABLE;
    try {
      process.env.ADJOIN_CLAIMS_TABLE = 'adjoin-JoinClaims1A2B3C-XYZ';
      expect((await handler({})).checks.find((c) => c.name === 'claims table')?.ok).toBe(true);
      delete process.env.ADJOIN_CLAIMS_TABLE;
      await handler({});
      expect(read).toEqual(['adjoin-JoinClaims1A2B3C-XYZ', w.deps.settings.claimsTableName]);
    } finally {
      if (saved === undefined) delete process.env.ADJOIN_CLAIMS_TABLE;
      else process.env.ADJOIN_CLAIMS_TABLE = saved;
    }
  });

  it('refuses malformed input', async () => {
    const w = world();
    const handler = makeHandler(() => Promise.resolve(w.deps), () => ({ probe, directory: directory(true) }));
    await expect(handler({ targets: [{ account: 'x', region: 'eu-west-1' }] })).rejects.toBeInstanceOf(InvalidInput);
  });
});
