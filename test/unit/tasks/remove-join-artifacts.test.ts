import { DirectoryRefused } from '../../../tasks/lib/errors';
import { removeJoinArtifacts } from '../../../tasks/lib/compensate';
import { makeHandler as makeCompensation } from '../../../tasks/remove-join-artifacts';
import { ACCOUNT, ADMIN_SID, INSTANCE, NOW, OTHER_OU, OU, proceed, REGION, world } from '../../fakes';

const marker = { account: ACCOUNT, region: REGION, instanceId: INSTANCE };

describe('Remove what the join made', () => {
  it('deletes only our objects in the managed OU, their DNS records and the secret', async () => {
    // Prepare
    const w = world();
    w.directory.objects.push(
      { dn: `CN=OURS,${OU}`, name: 'OURS', marker, whenCreated: NOW, createdByUs: true },
      { dn: `CN=OTHER,${OU}`, name: 'OTHER', marker: { ...marker, instanceId: 'i-0aaaaaaaaaaaaaaaa' }, whenCreated: NOW, createdByUs: true },
      { dn: `CN=UNMARKED,${OU}`, name: 'UNMARKED', whenCreated: NOW, createdByUs: true },
      { dn: `CN=MOVED,${OTHER_OU}`, name: 'MOVED', marker, whenCreated: NOW, createdByUs: true },
      { dn: `CN=COPIED,${OU}`, name: 'COPIED', marker, whenCreated: NOW, createdByUs: false, ownerSid: ADMIN_SID },
    );
    w.fleet.secrets.set(INSTANCE, 'otp');
    // Act
    const out = await removeJoinArtifacts(
      { instance: proceed, error: { Error: 'InstanceGone', Cause: 'Instance i-0123456789abcdef0 is terminated' } },
      w.deps,
    );
    // Assess
    expect(out).toEqual({ outcome: 'abandoned', reason: `${INSTANCE}: Instance i-0123456789abcdef0 is terminated`, deleted: [`CN=OURS,${OU}`] });
    expect(w.directory.objects.map((o) => o.name)).toEqual(['OTHER', 'UNMARKED', 'MOVED', 'COPIED']);
    // the records of OUR name in OUR zone, and only those
    expect(w.directory.calls.filter((c) => c[0] === 'deleteDnsRecords')).toEqual([['deleteDnsRecords', 'ours.corp.example.com']]);
    expect(w.fleet.secrets.size).toBe(0);
  });

  it('is idempotent', async () => {
    const w = world();
    w.directory.objects.push({ dn: `CN=OURS,${OU}`, name: 'OURS', marker, whenCreated: NOW, createdByUs: true });
    const handler = makeCompensation(() => Promise.resolve(w.deps));
    await handler({ instance: proceed, error: { Error: 'InstanceGone' } });
    await expect(handler({ instance: proceed, error: { Error: 'InstanceGone' } })).resolves.toMatchObject({ deleted: [] });
  });

  it('still deletes the object when DNS clean-up is refused', async () => {
    const w = world();
    w.directory.objects.push({ dn: `CN=OURS,${OU}`, name: 'OURS', marker, whenCreated: NOW, createdByUs: true });
    w.directory.deleteDnsRecords = () => Promise.reject(new DirectoryRefused('LDAP search failed: insufficient access'));
    await expect(removeJoinArtifacts({ instance: proceed }, w.deps)).resolves.toMatchObject({ deleted: [`CN=OURS,${OU}`], reason: `${INSTANCE}: the instance is gone` });
  });
});
