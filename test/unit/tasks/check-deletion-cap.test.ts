/**
 * "Check deletion cap" (reconcile) against small fakes: dry run, cap, bounded Cause.
 */
jest.mock('../../../tasks/adapters/default-deps', () => ({ defaultDeps: () => Promise.reject(new Error('unit tests pass their own deps')) }));

import { makeHandler as makeCap } from '../../../tasks/check-deletion-cap';
import type { ComputerObject } from '../../../tasks/lib/ports';
import { CAUSE_MAX_BYTES, STALE_LIST_MAX_ITEMS, capExceededMessage } from '../../../tasks/lib/reconcile';
import { ACCOUNT, computer, iid, pagedWorld, scanOf } from '../../fakes';

const world = (objects: ComputerObject[], reconcile: Parameters<typeof pagedWorld>[1] = {}) => {
  const w = pagedWorld(objects, reconcile);
  return { ...w, cap: makeCap(w.provider) };
};

describe('Check deletion cap', () => {
  it('under the cap: proceeds with the listed objects', async () => {
    // Prepare
    const w = world([], { maxDeletions: 3 });
    // Act / Assess
    expect(await w.cap({ scan: scanOf(3, 3) })).toEqual({ dryRun: false, maxDeletions: 3, stale: 3, capExceeded: false, toDelete: 3 });
  });

  it('over the cap: DeletionCapExceeded naming what it would have deleted', async () => {
    // Prepare
    const w = world([], { maxDeletions: 2 });
    // Act
    const err = await w.cap({ scan: scanOf(3, 3) }).catch((e: unknown) => e);
    // Assess
    expect(err).toMatchObject({ name: 'DeletionCapExceeded' });
    const msg = (err as Error).message;
    expect(msg).toMatch(/3 stale computer objects, more than the cap of 2/);
    for (const n of [0, 1, 2]) expect(msg).toContain(`${computer(n).name} (${computer(n).dn}) of ${ACCOUNT}/eu-west-1/${iid(n)}`);
    expect(msg).not.toMatch(/more$/);
  });

  it('a huge breach: the Cause stays under 30 KB and ends with "…and N more"', () => {
    // Act
    const msg = capExceededMessage(scanOf(50_000, STALE_LIST_MAX_ITEMS), 50);
    // Assess
    expect(Buffer.byteLength(msg)).toBeLessThanOrEqual(CAUSE_MAX_BYTES);
    const listed = msg.split('\n').length - 2;
    expect(msg).toMatch(new RegExp(`…and ${50_000 - listed} more$`));
    expect(listed).toBeGreaterThan(50);
  });

  it('a dry run never throws and deletes nothing, even past the cap', async () => {
    // Prepare
    const w = world([], { maxDeletions: 1 });
    // Act / Assess
    expect(await w.cap({ scan: scanOf(5, 5, true) })).toEqual({ dryRun: true, maxDeletions: 1, stale: 5, capExceeded: true, toDelete: 0 });
  });

  it('refuses a scan it cannot read', async () => {
    await expect(world([]).cap({ scan: { stale: 'many' } })).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});
