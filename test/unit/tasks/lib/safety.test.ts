/**
 * The never-delete rules. Each rule has tests that fail if the rule is removed or weakened;
 * the last block checks that decideDeletion applies every rule (a refusal from any one wins).
 */
import { isInside } from '../../../../tasks/lib/dn';
import {
  decideDeletion,
  isFullMarker,
  mayReuseOrDelete,
  refuseIfJoinRunning,
  refuseIfYoung,
  refuseUnlessExpected,
  refuseUnlessGone,
  refuseUnlessInManagedOu,
  refuseUnlessOurs,
  refuseUnlessOwned,
  safetySettings,
  type SafetySettings,
} from '../../../../tasks/lib/safety';
import type { InstanceInfo } from '../../../../tasks/lib/ports';
import { ACCOUNT, ADMIN_SID, NOW, OLD, OU, computer, guidOf, iid, instanceNo, markerOf, testSettings } from '../../../fakes';

const S: SafetySettings = { managedOus: [OU], graceSeconds: 3600, claimLeaseSeconds: 900, statusPrefix: 'adjoin:' };
const joining = (claimedAt: string | undefined): Record<string, string> => ({
  'adjoin:status': 'joining',
  ...(claimedAt === undefined ? {} : { 'adjoin:claimed-at': claimedAt }),
});

describe('rule: only objects with our FULL marker', () => {
  it('refuses an object without a marker, even with an instance ID in its description', () => {
    // Prepare
    const admin = computer(1, { marker: undefined, description: `EC2 ${iid(1)} in ${markerOf(1).account}/${markerOf(1).region}` });
    // Act / Assess
    expect(refuseUnlessOurs(admin)).toMatch(/not ours/);
    expect(decideDeletion(admin, undefined, S, NOW)).toMatchObject({ delete: false, rule: 'ours' });
  });
  it('refuses a partial or malformed marker', () => {
    // Prepare / Act / Assess
    for (const marker of [
      { account: '', region: 'eu-west-1', instanceId: iid(1) },
      { account: ACCOUNT, region: '', instanceId: iid(1) },
      { account: ACCOUNT, region: 'eu-west-1', instanceId: '' },
      { account: '11112222333', region: 'eu-west-1', instanceId: iid(1) },
      { account: ACCOUNT, region: 'eu-west-1', instanceId: 'i-xyz' },
      { account: ACCOUNT, region: 'EU-WEST-1', instanceId: iid(1) },
    ]) {
      expect(isFullMarker(marker)).toBe(false);
      expect(decideDeletion(computer(1, { marker }), undefined, S, NOW).delete).toBe(false);
    }
  });
  it('accepts a full marker', () => {
    expect(refuseUnlessOurs(computer(1))).toBeUndefined();
  });
});

describe('rule: the marker is the one of the instance we act for', () => {
  it('refuses another instance\'s object (same name would not matter)', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessExpected(computer(2), markerOf(1))).toMatch(/not of/);
    expect(decideDeletion(computer(2), undefined, { ...S, expected: markerOf(1) }, NOW)).toMatchObject({ delete: false, rule: 'expected' });
  });
  it('refuses the same instance ID in another account or Region', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessExpected(computer(1), markerOf(1, '999988887777'))).toBeDefined();
    expect(refuseUnlessExpected(computer(1), markerOf(1, undefined, 'us-east-1'))).toBeDefined();
    expect(refuseUnlessExpected(computer(1), markerOf(1))).toBeUndefined();
  });
});

describe('rule: inside a managed OU, on RDN boundaries', () => {
  it('accepts objects inside the OU, at any depth, whatever the case', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessInManagedOu(`CN=X,${OU}`, [OU])).toBeUndefined();
    expect(refuseUnlessInManagedOu(`cn=x,ou=sub,${OU.toLowerCase()}`, [OU])).toBeUndefined();
    expect(refuseUnlessInManagedOu('CN=X , OU=adjoin, OU=computers ,DC=CORP,DC=example,DC=com', [OU])).toBeUndefined();
  });
  it('refuses a sibling OU whose name ends like the managed one (substring trap)', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessInManagedOu('CN=X,OU=NotAdjoin,OU=Computers,DC=corp,DC=example,DC=com', [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu('CN=X,OU=Computers,DC=corp,DC=example,DC=com', [OU])).toBeDefined();
    expect(
      decideDeletion(computer(1, { dn: 'CN=X,OU=NotAdjoin,OU=Computers,DC=corp,DC=example,DC=com' }), undefined, S, NOW),
    ).toMatchObject({ delete: false, rule: 'managed-ou' });
  });
  it('refuses an escaped comma that fakes the OU suffix', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessInManagedOu('CN=X,OU=Evil\\,OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com', [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu('CN=X\\,OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com', [OU])).toBeDefined();
  });
  it('refuses the OU itself, another domain, and a malformed DN', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessInManagedOu(OU, [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu('CN=X,OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=org', [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu('CN=X,OU=Adjoin,OU=Computers,DC=corp,DC=example,DC=com,DC=evil', [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu(`CN=X\\,${OU}`, [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu('garbage', [OU])).toBeDefined();
    expect(refuseUnlessInManagedOu(`CN=X,${OU}`, [])).toBeDefined();
  });
  it('handles Entra Domain Services\' "AADDC Computers" (a space in the RDN value)', () => {
    // Prepare
    const aadds = 'OU=AADDC Computers,DC=aaddscontoso,DC=com';
    // Act / Assess
    expect(refuseUnlessInManagedOu('CN=EC2-1,OU=AADDC Computers,DC=aaddscontoso,DC=com', [aadds])).toBeUndefined();
    expect(refuseUnlessInManagedOu('CN=EC2-1,OU=aaddc  computers,DC=aaddscontoso,DC=com', [aadds])).toBeDefined();
    expect(refuseUnlessInManagedOu('CN=EC2-1,OU=Computers,DC=aaddscontoso,DC=com', [aadds])).toBeDefined();
  });
  it('is a real suffix test (isInside)', () => {
    // Prepare / Act / Assess
    expect(isInside('CN=a,OU=b,DC=c', 'OU=b,DC=c')).toBe(true);
    expect(isInside('CN=a,OU=xb,DC=c', 'OU=b,DC=c')).toBe(false);
    expect(isInside('CN=a,OU=b,DC=c', 'CN=a,OU=b,DC=c')).toBe(false);
  });
});

describe('rule: the instance is gone (terminated or unknown), never on an error', () => {
  it.each(['running', 'stopped', 'pending', 'stopping', 'shutting-down'] as const)('refuses when the instance is %s', (state) => {
    // Prepare / Act / Assess
    expect(refuseUnlessGone(markerOf(1), instanceNo(1, state))).toMatch(new RegExp(state));
    expect(decideDeletion(computer(1), instanceNo(1, state), S, NOW)).toMatchObject({ delete: false, rule: 'gone' });
  });
  it('refuses when EC2 did not answer', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessGone(markerOf(1), 'error')).toMatch(/never/);
    expect(decideDeletion(computer(1), 'error', S, NOW)).toMatchObject({ delete: false, rule: 'gone' });
  });
  it('refuses an answer about another instance', () => {
    expect(decideDeletion(computer(1), instanceNo(2, 'terminated'), S, NOW)).toMatchObject({ delete: false, rule: 'gone' });
  });
  it('allows terminated and not found', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessGone(markerOf(1), instanceNo(1, 'terminated'))).toBeUndefined();
    expect(refuseUnlessGone(markerOf(1), undefined)).toBeUndefined();
  });
});

describe('rule: older than the grace period', () => {
  it('refuses a young object', () => {
    // Prepare
    const young = computer(1, { whenCreated: new Date(NOW.getTime() - 3599_000) });
    // Act / Assess
    expect(refuseIfYoung(young, 3600, NOW)).toMatch(/younger/);
    expect(decideDeletion(young, undefined, S, NOW)).toMatchObject({ delete: false, rule: 'age' });
  });
  it('refuses an object created in the future (clock skew) or with no readable time', () => {
    // Prepare / Act / Assess
    expect(refuseIfYoung(computer(1, { whenCreated: new Date(NOW.getTime() + 60_000) }), 3600, NOW)).toBeDefined();
    expect(refuseIfYoung(computer(1, { whenCreated: new Date('nonsense') }), 3600, NOW)).toBeDefined();
  });
  it('allows an object exactly as old as the grace period, and any age with no grace period', () => {
    // Prepare / Act / Assess
    expect(refuseIfYoung(computer(1, { whenCreated: new Date(NOW.getTime() - 3600_000) }), 3600, NOW)).toBeUndefined();
    expect(refuseIfYoung(computer(1, { whenCreated: NOW }), 0, NOW)).toBeUndefined();
  });
});

describe('rule: ownership (recorded objectGUID, else created by the service account)', () => {
  it('with a recorded GUID: the object must carry exactly that GUID (case and braces do not matter)', () => {
    // Prepare
    const ours = computer(1);
    // Act / Assess
    expect(refuseUnlessOwned(ours, guidOf(1))).toBeUndefined();
    expect(refuseUnlessOwned(ours, `{${guidOf(1).toUpperCase()}}`)).toBeUndefined();
    // the GUID proves it even when the owner was changed since
    expect(refuseUnlessOwned(computer(1, { createdByUs: false, ownerSid: ADMIN_SID }), guidOf(1))).toBeUndefined();
  });
  it('a GUID mismatch is refused, naming both GUIDs', () => {
    // Prepare
    const impostor = computer(1, { guid: guidOf(99) });
    // Act
    const reason = refuseUnlessOwned(impostor, guidOf(1));
    // Assess
    expect(reason).toContain(guidOf(99));
    expect(reason).toContain(guidOf(1));
    expect(decideDeletion(impostor, undefined, { ...S, expectedGuid: guidOf(1) }, NOW)).toMatchObject({ delete: false, rule: 'ownership' });
  });
  it('with a recorded GUID, an object whose GUID could not be read is refused', () => {
    // Prepare / Act / Assess
    expect(refuseUnlessOwned(computer(1, { guid: undefined }), guidOf(1))).toMatch(/no readable objectGUID/);
  });
  it('with no recorded GUID: only an object the service account created', () => {
    // Prepare
    const foreign = computer(1, { createdByUs: false, ownerSid: ADMIN_SID });
    // Act / Assess
    expect(refuseUnlessOwned(computer(1), undefined)).toBeUndefined();
    expect(refuseUnlessOwned(foreign, undefined)).toContain(ADMIN_SID);
    expect(refuseUnlessOwned(computer(1, { createdByUs: undefined, ownerSid: undefined }), undefined)).toMatch(/owner could not be read/);
    expect(decideDeletion(foreign, undefined, S, NOW)).toMatchObject({ delete: false, rule: 'ownership' });
  });
});

describe('mayReuseOrDelete (Prepare\'s reuse path; the EC2-free half of decideDeletion)', () => {
  const opts = { managedOus: [OU] };
  it('allows our object for our instance', () => {
    // Prepare / Act / Assess
    expect(mayReuseOrDelete(computer(1), markerOf(1), opts)).toMatchObject({ delete: true });
    expect(mayReuseOrDelete(computer(1), markerOf(1), { ...opts, expectedGuid: guidOf(1) })).toMatchObject({ delete: true });
  });
  it.each([
    ['no marker', computer(1, { marker: undefined }), {}, 'ours'],
    ['another instance\'s marker', computer(2), {}, 'expected'],
    ['outside the managed OU', computer(1, { dn: `CN=EC2-1,OU=Other,DC=corp,DC=example,DC=com` }), {}, 'managed-ou'],
    ['created by someone else (a copied marker)', computer(1, { createdByUs: false, ownerSid: ADMIN_SID }), {}, 'ownership'],
    ['another objectGUID than the recorded one', computer(1), { expectedGuid: guidOf(7) }, 'ownership'],
  ] as const)('refuses %s', (_what, object, extra, rule) => {
    // Prepare / Act / Assess
    expect(mayReuseOrDelete(object, markerOf(1), { ...opts, ...extra })).toMatchObject({ delete: false, rule });
  });
});

describe('rule: no join running (only where EC2 does not say terminated)', () => {
  const joiningIn = (state: InstanceInfo['state'], claimedAt: string | undefined): InstanceInfo => instanceNo(1, state, joining(claimedAt));
  it('refuses while a fresh claim is held on an instance EC2 does not say is terminated', () => {
    // Prepare
    const fresh = new Date(NOW.getTime() - 60_000).toISOString();
    // Act / Assess
    expect(refuseIfJoinRunning(joiningIn('running', fresh), 'adjoin:', 900, NOW)).toMatch(/join/);
    expect(refuseIfJoinRunning(joiningIn('pending', fresh), 'adjoin:', 900, NOW)).toMatch(/join/);
  });
  it('refuses a "joining" status it cannot date (instance not terminated)', () => {
    // Prepare / Act / Assess
    expect(refuseIfJoinRunning(joiningIn('running', undefined), 'adjoin:', 900, NOW)).toBeDefined();
    expect(refuseIfJoinRunning(joiningIn('running', 'yesterday'), 'adjoin:', 900, NOW)).toBeDefined();
  });
  it('a claim time in the future is invalid, never a fresh claim', () => {
    // Prepare
    const future = new Date(NOW.getTime() + 3600_000).toISOString();
    // Act / Assess
    expect(refuseIfJoinRunning(joiningIn('running', future), 'adjoin:', 900, NOW)).toBeUndefined();
    expect(decideDeletion(computer(1), joiningIn('terminated', future), S, NOW)).toMatchObject({ delete: true });
  });
  it('a terminated instance: no claim blocks (fresh, undatable, failed join)', () => {
    // Prepare
    const fresh = new Date(NOW.getTime() - 60_000).toISOString();
    // Act / Assess
    expect(refuseIfJoinRunning(joiningIn('terminated', fresh), 'adjoin:', 900, NOW)).toBeUndefined();
    expect(refuseIfJoinRunning(joiningIn('terminated', undefined), 'adjoin:', 900, NOW)).toBeUndefined();
    expect(decideDeletion(computer(1), joiningIn('terminated', fresh), S, NOW)).toMatchObject({ delete: true });
    expect(decideDeletion(computer(1), instanceNo(1, 'terminated', { 'adjoin:status': 'failed' }), S, NOW)).toMatchObject({ delete: true });
  });
  it('allows a stale claim, and "joined"', () => {
    // Prepare
    const stale = new Date(NOW.getTime() - 901_000).toISOString();
    // Act / Assess
    expect(refuseIfJoinRunning(joiningIn('running', stale), 'adjoin:', 900, NOW)).toBeUndefined();
    expect(refuseIfJoinRunning(instanceNo(1, 'running', { 'adjoin:status': 'joined' }), 'adjoin:', 900, NOW)).toBeUndefined();
    expect(decideDeletion(computer(1), joiningIn('terminated', stale), S, NOW)).toMatchObject({ delete: true });
  });
});

describe('decideDeletion', () => {
  it('deletes only when every rule agrees', () => {
    // Prepare / Act / Assess
    expect(decideDeletion(computer(1), undefined, S, NOW)).toMatchObject({ delete: true });
    expect(decideDeletion(computer(1), instanceNo(1, 'terminated'), { ...S, expected: markerOf(1) }, NOW)).toMatchObject({ delete: true });
    expect(decideDeletion(computer(1), undefined, S, NOW).reason).toMatch(/unknown to EC2/);
  });
  it('builds its settings from the task settings', () => {
    // Prepare
    const s = safetySettings(testSettings(), { graceSeconds: 10, expected: markerOf(3) });
    // Act / Assess
    expect(s).toEqual({ managedOus: [OU], graceSeconds: 10, claimLeaseSeconds: 900, statusPrefix: 'adjoin:', expected: markerOf(3) });
    expect(safetySettings(testSettings()).graceSeconds).toBe(0);
  });
  it('never deletes in any combination where one rule refuses (exhaustive over the rules)', () => {
    // Prepare
    const objects = [
      computer(1),
      computer(1, { marker: undefined }),
      computer(1, { dn: 'CN=X,OU=Other,DC=corp,DC=example,DC=com' }),
      computer(1, { whenCreated: NOW }),
      computer(1, { createdByUs: false, ownerSid: ADMIN_SID }),
    ];
    const answers = [
      undefined,
      'error' as const,
      instanceNo(1, 'running'),
      instanceNo(1, 'terminated'),
      instanceNo(1, 'terminated', joining(NOW.toISOString())),
      instanceNo(1, 'running', joining(NOW.toISOString())),
    ];
    // Act / Assess
    for (const [oi, o] of objects.entries())
      for (const [ai, a] of answers.entries()) {
        const allowed = oi === 0 && (ai === 0 || ai === 3 || ai === 4);
        expect(decideDeletion(o, a, S, NOW).delete).toBe(allowed);
        // with a recorded GUID: the same, and never for another GUID
        expect(decideDeletion(o, a, { ...S, expectedGuid: guidOf(1) }, NOW).delete).toBe(allowed || (oi === 4 && (ai === 0 || ai === 3 || ai === 4)));
        expect(decideDeletion(o, a, { ...S, expectedGuid: guidOf(2) }, NOW).delete).toBe(false);
      }
    expect(OLD.getTime()).toBeLessThan(NOW.getTime());
  });
});
