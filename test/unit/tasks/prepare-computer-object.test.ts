import { claimKey } from '../../../tasks/lib/claims';
import { ClaimLost, ComputerNameConflict, DirectoryRefused, DirectoryUnavailable } from '../../../tasks/lib/errors';
import { markerDescription } from '../../../tasks/lib/marker';
import { computerNameCandidates } from '../../../tasks/lib/naming';
import { hasEveryClass } from '../../../tasks/lib/otp';
import { prepareComputer } from '../../../tasks/lib/prepare';
import { makeHandler } from '../../../tasks/prepare-computer-object';
import { ACCOUNT, INSTANCE, NOW, OTHER_OU, OU, proceed, REGION, world } from '../../fakes';

const input = { instance: proceed, executionName: 'exec-1' };
const marker = { account: ACCOUNT, region: REGION, instanceId: INSTANCE };
const [first, second] = computerNameCandidates(INSTANCE) as [string, string];

describe('Prepare computer object', () => {
  it('records the object in the claim (dn, name, GUID, phase prepared)', async () => {
    const w = world();
    const out = await prepareComputer(input, w.deps);
    expect(w.claims.item(claimKey(proceed))).toMatchObject({ execution: 'exec-1', status: 'joining', dn: out.dn, computerName: out.name, phase: 'prepared' });
  });

  it('never resets the password of a joined instance\'s object', async () => {
    const w = world();
    await w.claims.take(claimKey(proceed), 'exec-1', NOW.getTime() / 1000, 900);
    await w.claims.update(claimKey(proceed), 'exec-1', { status: 'joined' });
    await expect(prepareComputer(input, w.deps)).rejects.toThrow(ClaimLost);
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword' || c[0] === 'createComputer')).toEqual([]);
  });

  it('reuse: an object of ours whose GUID is not the one the claim recorded is not reset', async () => {
    const w = world();
    await w.directory.createComputer({ ou: OU, name: first, fqdn: 'x.corp.example.com', marker, description: markerDescription(marker), password: 'p' });
    const o = w.directory.objects[0];
    if (o) o.guid = 'someone-elses-guid';
    await w.claims.take(claimKey(proceed), 'exec-1', NOW.getTime() / 1000, 900);
    await w.claims.update(claimKey(proceed), 'exec-1', { objectGuid: 'the-recorded-guid' });
    const out = await prepareComputer(input, w.deps);
    expect(out.action).toBe('created');
    expect(out.name).toBe(second);
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword')).toEqual([]);
  });

  it('creates the object with the first candidate name and stores the one-time password', async () => {
    // Prepare
    const w = world();
    // Act
    const out = await prepareComputer(input, w.deps);
    // Assess
    expect(out).toEqual({
      name: first,
      dn: `CN=${first},${OU}`,
      fqdn: `${first.toLowerCase()}.corp.example.com`,
      action: 'created',
      secretName: `/adjoin/otp/${INSTANCE}`,
    });
    expect(w.directory.calls).toContainEqual([
      'createComputer',
      {
        ou: OU,
        name: first,
        fqdn: `${first.toLowerCase()}.corp.example.com`,
        marker,
        description: `adjoin: EC2 ${INSTANCE} in ${ACCOUNT}/${REGION}`,
        password: '<hidden>',
      },
    ]);
    const otp = w.fleet.secrets.get(INSTANCE) as string;
    expect(otp.length).toBeGreaterThanOrEqual(32);
    expect(hasEveryClass(otp)).toBe(true);
    expect(w.directory.objects[0]?.password).toBe(otp);
    expect(JSON.stringify(out)).not.toContain(otp);
  });

  it('reuses its own object on a re-run with a fresh password (idempotent)', async () => {
    const w = world();
    const a = await prepareComputer(input, w.deps);
    const otp1 = w.fleet.secrets.get(INSTANCE);
    const b = await prepareComputer(input, w.deps);
    expect(b).toEqual({ ...a, action: 'reused' });
    expect(w.directory.objects).toHaveLength(1);
    expect(w.fleet.secrets.get(INSTANCE)).not.toBe(otp1);
    expect(w.directory.objects[0]?.password).toBe(w.fleet.secrets.get(INSTANCE));
    expect(w.directory.calls.filter((c) => c[0] === 'resetPassword')).toEqual([['resetPassword', a.dn]]);
  });

  it('makes the object again when the directory refuses the password reset', async () => {
    const w = world();
    const first1 = await prepareComputer(input, w.deps);
    w.directory.resetPassword = () => Promise.reject(new DirectoryRefused('LDAP reset password failed: insufficient access (LDAP result 50)'));
    const again = await prepareComputer(input, w.deps);
    expect(again).toEqual({ ...first1, action: 'created' });
    expect(w.directory.calls.filter((c) => c[0] === 'deleteComputer')).toEqual([['deleteComputer', first1.dn]]);
    expect(w.directory.objects).toHaveLength(1);
    expect(w.directory.objects[0]?.password).toBe(w.fleet.secrets.get(INSTANCE));
  });

  it('skips a name held by an object that is not ours', async () => {
    const w = world();
    w.directory.objects.push({ dn: `CN=${first},${OTHER_OU}`, name: first, whenCreated: NOW });
    const out = await prepareComputer(input, w.deps);
    expect(out.name).toBe(second);
    expect(out.action).toBe('created');
  });

  it('does not reuse an object outside the managed OUs even with our marker', async () => {
    const w = world();
    w.directory.objects.push({ dn: `CN=${first},${OTHER_OU}`, name: first, marker, whenCreated: NOW });
    const out = await prepareComputer(input, w.deps);
    expect(out).toMatchObject({ name: second, action: 'created' });
  });

  it('throws ComputerNameConflict naming every holder when all candidates are taken', async () => {
    const w = world();
    for (const name of computerNameCandidates(INSTANCE)) w.directory.objects.push({ dn: `CN=${name},${OTHER_OU}`, name, whenCreated: NOW });
    const err = await prepareComputer(input, w.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComputerNameConflict);
    for (const name of computerNameCandidates(INSTANCE)) expect((err as Error).message).toContain(`CN=${name},${OTHER_OU}`);
    expect(w.fleet.secrets.size).toBe(0);
  });

  it('after losing a race to its twin, reuses the object the twin made', async () => {
    const w = world();
    w.directory.failCreate = (spec) => {
      // The twin is another execution of ours: the service account made (and owns) the object.
      w.directory.objects.push({ dn: `CN=${spec.name},${OU}`, name: spec.name, marker: spec.marker, whenCreated: NOW, createdByUs: true });
      w.directory.failCreate = undefined;
      return new ComputerNameConflict(`Computer name ${spec.name} is already in use`);
    };
    const out = await prepareComputer(input, w.deps);
    expect(out).toMatchObject({ name: first, action: 'reused' });
  });

  it('lets a transient directory error through (the state machine retries it)', async () => {
    const w = world();
    w.directory.findByMarker = () => Promise.reject(new DirectoryUnavailable('LDAP search failed: Connection timeout'));
    await expect(makeHandler(() => Promise.resolve(w.deps))(input)).rejects.toMatchObject({ name: 'DirectoryUnavailable' });
  });

  it('uses the naming prefix', async () => {
    const w = world();
    w.deps.settings.naming.prefix = 'lnx';
    const out = await prepareComputer(input, w.deps);
    expect(out.name).toMatch(/^LNX[A-Z2-7]{12}$/);
  });
});
