/**
 * Leave and reconcile on the REAL directory: the synthesized leave / reconcile state machines
 * (infra → ASL) run by the local engine, the real task handlers, the production
 * LdapDirectory (tasks/adapters) over LDAPS to the lab's Samba AD DC. EC2 is a SimFleet answering for instance
 * IDs chosen here (the lab's own instances are not touched). Every result is confirmed with
 * `ldapsearch` inside the DC namespace (world.dcLdapSearch, bound as the Administrator), never
 * through the product's directory code. Root only (jest.lab.config.js).
 *
 * Isolation from the other lab users: everything lives under one OU of its own at the domain
 * root, `OU=adjoin-lab-h-test`, delegated to the service account exactly like the lab's managed
 * OU (`(OA;CI;CCDC;<computer>;;<svc SID>)`, set with `samba-tool dsacl` in the DC). Each run's
 * managed OU (settings.directory.managedOus) is one sub-OU of it, so no other lab test's
 * reconcile ever sees these objects, and these runs never see theirs. The sibling sub-OU
 * `OU=outside` is delegated too: only our code, not an LDAP ACL, keeps its object alive.
 * afterAll tree-deletes the whole OU (as the Administrator) and checks that nothing is left.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Client, Control, type ClientOptions } from 'ldapts';
import { synthesizeDefinitions } from '../../infra/asl';
import { LocalEngine, statePath, type ExecutionRecord } from '../../engine';
import { LAB_ACCOUNT, LAB_REGION, assertLabRoute, labDeps } from '../../lab/world/fleet';
import { SimFleet } from '../../lab/sim';
import * as world from '../../lab/world';
import { SERVICE_ACCOUNT } from '../../lab/world/paths';
import { LdapDirectory, TREE_DELETE_OID } from '../../tasks/adapters/ldap-directory';
import type { Ec2StateEvent } from '../../tasks/lib/contracts';
import type { Deps } from '../../tasks/lib/deps';
import { formatMarker, MARKER_ATTRIBUTE } from '../../tasks/lib/marker';
import { computerName, hostFqdn } from '../../tasks/lib/naming';
import type { ComputerObject } from '../../tasks/lib/ports';
import { adminClient, ensureLab, serviceClient } from './helpers';

const COMPUTER_CLASS = 'bf967a86-0de6-11d0-a285-00aa003049e2';
const ROOT_NAME = 'adjoin-lab-h-test';

let restore: () => Promise<void> = () => Promise.resolve();
let baseDn = '';
let root = '';
const ou = { reconcile: '', leave: '', paging: '', outside: '' };
let defs: ReturnType<typeof synthesizeDefinitions>;
const fleet = new SimFleet({ clock: { now: () => new Date() }, account: LAB_ACCOUNT, region: LAB_REGION });
const ms: Record<string, number> = {};

// ---- the directory, seen from outside the product ---------------------------------------------

const newInstanceId = (): string => `i-${randomBytes(9).toString('hex').slice(0, 17)}`;

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await adminClient();
  try {
    return await fn(c);
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

/** DNs of every object under `base` (base included), by ldapsearch in the DC; [] when base is gone. */
async function dnsUnder(base: string, filter = '(objectClass=*)'): Promise<string[]> {
  const r = await world.dcLdapSearch(base, filter, ['1.1'], { asAdmin: true });
  if (r.exitCode === 32) return []; // No such object
  if (r.exitCode !== 0) throw new Error(`ldapsearch ${base} exited ${r.exitCode}: ${r.stderr.slice(0, 500)}`);
  return r.stdout
    .split('\n')
    .map((l) => (l.startsWith('dn:: ') ? Buffer.from(l.slice(5), 'base64').toString('utf8') : l.startsWith('dn: ') ? l.slice(4) : undefined))
    .filter((d): d is string => d !== undefined)
    .map((d) => d.toLowerCase())
    .sort();
}

const exists = async (dn: string): Promise<boolean> => (await world.dcLdapSearch(dn, '(objectClass=*)', ['1.1'], { scope: 'base', asAdmin: true })).exitCode === 0;
const lower = (dns: string[]): string[] => dns.map((d) => d.toLowerCase()).sort();

interface Made {
  instanceId: string;
  name: string;
  dn: string;
}

/**
 * A computer object as the product makes it (one add; no password: not needed here), by the
 * given client. `marker`: true = our full marker for the instance, a string = that raw value
 * in the marker attribute, false = none.
 */
async function addComputer(client: Client, parent: string, opts: { marker: boolean | string; description?: string; instanceId?: string }): Promise<Made> {
  const instanceId = opts.instanceId ?? newInstanceId();
  const name = computerName(instanceId);
  const dn = `CN=${name},${parent}`;
  const attrs = [
    new Attribute({ type: 'objectClass', values: ['computer'] }),
    new Attribute({ type: 'sAMAccountName', values: [`${name}$`] }),
    new Attribute({ type: 'userAccountControl', values: ['4096'] }),
    new Attribute({ type: 'dNSHostName', values: [hostFqdn(name, world.labState().domain.dnsDomain)] }),
    new Attribute({ type: 'description', values: [opts.description ?? `adjoin: EC2 ${instanceId} in ${LAB_ACCOUNT}/${LAB_REGION}`] }),
  ];
  if (opts.marker !== false)
    attrs.push(new Attribute({ type: MARKER_ATTRIBUTE, values: [opts.marker === true ? formatMarker({ account: LAB_ACCOUNT, region: LAB_REGION, instanceId }) : opts.marker] }));
  await client.add(dn, attrs);
  return { instanceId, name, dn };
}

async function asService<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await serviceClient();
  try {
    return await fn(c);
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

// ---- the product, wired to the real directory -----------------------------------------------

/** The production LdapDirectory, guarded so it can only ever reach the lab DC. */
function productDirectory(settings: Deps['settings'], pageSize?: number): LdapDirectory {
  return new LdapDirectory(settings.directory, {
    ...(pageSize !== undefined ? { pageSize } : {}),
    createClient: (o: ClientOptions) => {
      assertLabRoute(o.url);
      return new Client(o);
    },
  });
}

/** Deps + engine whose managed OU is `managedOu`: real LDAPS (lab bind account, CA verified), SimFleet EC2. */
function runtime(managedOu: string, opts: { pageSize?: number } = {}): { deps: Deps; engine: LocalEngine } {
  const lab = labDeps({
    customize: (s) => {
      s.directory.managedOus = [managedOu];
      s.directory.computerOu = managedOu;
      s.reconcile.graceSeconds = 0;
      s.reconcile.maxDeletions = 20;
      s.reconcile.dryRun = false;
    },
  });
  const deps: Deps = { ...lab, directory: productDirectory(lab.settings, opts.pageSize), fleetFor: fleet.fleetFor };
  const machines: Record<string, unknown> = { leave: defs.leave, reconcile: defs.reconcile };
  const engine = new LocalEngine(machines, { deps: () => Promise.resolve(deps), account: LAB_ACCOUNT, region: LAB_REGION });
  return { deps, engine };
}

const terminatedEvent = (instanceId: string): Ec2StateEvent => ({
  version: '0',
  id: `evt-${instanceId}-terminated`,
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: LAB_ACCOUNT,
  region: LAB_REGION,
  time: new Date().toISOString(),
  resources: [`arn:aws:ec2:${LAB_REGION}:${LAB_ACCOUNT}:instance/${instanceId}`],
  detail: { 'instance-id': instanceId, state: 'terminated' },
});

/** A state's output as recorded by the engine (top level, first part). */
function outputOf(run: ExecutionRecord, state: string): Record<string, unknown> {
  const e = run.events.find((x) => x.type === 'StateExited' && x.state === state && x.index === undefined);
  if (!e || typeof e.output !== 'object' || e.output === null || Array.isArray(e.output)) throw new Error(`no output recorded for "${state}"`);
  return e.output;
}

const runName = (what: string): string => `h-${what}-${randomBytes(4).toString('hex')}`;

// ---- set-up and clean-up ---------------------------------------------------------------------

async function removeRoot(): Promise<void> {
  await withAdmin(async (c) => {
    try {
      await c.del(root, new Control(TREE_DELETE_OID, { critical: true }));
    } catch (err) {
      if (!/no such object|0x20/i.test(err instanceof Error ? err.message : String(err))) throw err;
    }
  });
}

beforeAll(async () => {
  const t0 = Date.now();
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  const d = world.labState().domain;
  baseDn = d.baseDn;
  root = `OU=${ROOT_NAME},${baseDn}`;
  ou.reconcile = `OU=reconcile,${root}`;
  ou.leave = `OU=leave,${root}`;
  ou.paging = `OU=paging,${root}`;
  ou.outside = `OU=outside,${root}`;
  await removeRoot(); // a crashed earlier run's leftovers (this OU is this file's alone)
  await withAdmin((c) => c.add(root, [new Attribute({ type: 'objectClass', values: ['organizationalUnit'] })]));
  // Delegate exactly what the lab's managed OU delegates: create/delete computer objects.
  const sam = '/var/lib/samba/private/sam.ldb';
  const show = await world.dcExec(['samba-tool', 'user', 'show', SERVICE_ACCOUNT, '-H', sam, '--attributes=objectSid'], { timeoutMs: 30_000 });
  const sid = /objectSid: (S-1-5-21-[\d-]+)/.exec(show.stdout)?.[1];
  if (!sid) throw new Error(`cannot read the service account's SID (exit ${show.exitCode}): ${show.stderr.slice(0, 300)}`);
  const acl = await world.dcExec(['samba-tool', 'dsacl', 'set', '-H', sam, `--objectdn=${root}`, `--sddl=(OA;CI;CCDC;${COMPUTER_CLASS};;${sid})`], { timeoutMs: 30_000 });
  if (acl.exitCode !== 0) throw new Error(`samba-tool dsacl set failed (exit ${acl.exitCode}): ${acl.stderr.slice(0, 300)}`);
  await withAdmin(async (c) => {
    for (const o of Object.values(ou)) await c.add(o, [new Attribute({ type: 'objectClass', values: ['organizationalUnit'] })]);
  });
  const ts = Date.now();
  defs = synthesizeDefinitions({}, { account: LAB_ACCOUNT, region: LAB_REGION });
  ms.synthesize = Date.now() - ts;
  ms.setup = Date.now() - t0;
}, 240_000);

afterAll(async () => {
  try {
    if (root) {
      await removeRoot();
      const left = await dnsUnder(root);
      if (left.length > 0) throw new Error(`leave-reconcile: objects left behind: ${left.join(' ')}`);
    }
  } finally {
    await restore();
    process.stderr.write(`leave-reconcile lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
}, 120_000);

// ---- the cases -------------------------------------------------------------------------------

describe('reconcile on the real directory', () => {
  test('removes our stale objects; foreign, outside-the-OU and live objects stay', async () => {
    const made = await asService(async (c) => ({
      unknown: await addComputer(c, ou.reconcile, { marker: true }), // EC2 does not know it
      terminated: await addComputer(c, ou.reconcile, { marker: true }), // EC2: terminated
      running: await addComputer(c, ou.reconcile, { marker: true }), // EC2: running
      // An admin's computer whose description holds an instance ID (of a terminated instance).
      foreign: await addComputer(c, ou.reconcile, { marker: false }),
      // Another tool's value in the marker attribute, with an instance ID in it (terminated).
      partial: await (async () => {
        const id = newInstanceId();
        return addComputer(c, ou.reconcile, { marker: `other-tool:${LAB_ACCOUNT}:${id}`, instanceId: id });
      })(),
    }));
    // Our full marker, instance terminated, but in an OU that is not managed (made by the admin).
    const outside = await withAdmin((c) => addComputer(c, ou.outside, { marker: true }));
    fleet.addInstance({ instanceId: made.terminated.instanceId, state: 'terminated' });
    fleet.addInstance({ instanceId: made.running.instanceId, state: 'running' });
    fleet.addInstance({ instanceId: made.foreign.instanceId, state: 'terminated' });
    fleet.addInstance({ instanceId: made.partial.instanceId, state: 'terminated' });
    fleet.addInstance({ instanceId: outside.instanceId, state: 'terminated' });
    const everything = [...Object.values(made), outside].map((m) => m.dn);
    expect(lower((await dnsUnder(root, '(objectClass=computer)')))).toEqual(lower(everything));

    const { engine } = runtime(ou.reconcile, { pageSize: 2 });
    const t0 = Date.now();
    const run = await engine.start('reconcile', {}, { name: runName('reconcile') });
    ms.reconcile = Date.now() - t0;
    expect(run.error ?? '').toBe('');
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find stale objects', 'Check deletion cap', 'Dry run?', 'Delete stale objects', 'Report', 'Every account reconciled?', 'Done']);
    const scan = outputOf(run, 'Find stale objects').scan as Record<string, unknown>;
    // Listed: the 4 objects with a value in the marker attribute (the markerless one is not).
    expect(scan).toMatchObject({ scanned: 4, stale: 2, notOurs: 1, alive: 1, outsideManagedOu: 0, young: 0 });
    expect(scan.ldapPages).toBe(2);
    expect(run.output).toMatchObject({ stale: 2, deleted: 2, skipped: 0, failed: 0, dryRun: false });

    // The directory, read by ldapsearch in the DC.
    expect(await dnsUnder(ou.reconcile, '(objectClass=computer)')).toEqual(lower([made.running.dn, made.foreign.dn, made.partial.dn]));
    expect(await exists(outside.dn)).toBe(true);
    expect(await exists(made.unknown.dn)).toBe(false);
    expect(await exists(made.terminated.dn)).toBe(false);

    // A second run finds nothing more to do.
    const again = await engine.start('reconcile', {}, { name: runName('reconcile-again') });
    expect(again.status).toBe('SUCCEEDED');
    expect(again.output).toMatchObject({ stale: 0, deleted: 0 });
    expect(await dnsUnder(ou.reconcile, '(objectClass=computer)')).toEqual(lower([made.running.dn, made.foreign.dn, made.partial.dn]));
  });

  test('a dry run over several pages (page size 5, 12 objects) lists each once and deletes nothing', async () => {
    const made = await asService(async (c) => {
      const out: Made[] = [];
      for (let k = 0; k < 12; k++) out.push(await addComputer(c, ou.paging, { marker: true })); // all unknown to EC2: stale
      return out;
    });
    const { engine } = runtime(ou.paging, { pageSize: 5 });
    const run = await engine.start('reconcile', { dryRun: true }, { name: runName('dry') });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find stale objects', 'Check deletion cap', 'Dry run?', 'Dry run', 'Report', 'Every account reconciled?', 'Done']);
    expect(outputOf(run, 'Find stale objects').scan).toMatchObject({ scanned: 12, stale: 12, ldapPages: 3, dryRun: true });
    // The cap (20) is not reached; the summary reports what a real run would delete.
    expect(run.output).toMatchObject({ stale: 12, deleted: 0, dryRun: true, capExceeded: false });
    expect(await dnsUnder(ou.paging, '(objectClass=computer)')).toEqual(lower(made.map((m) => m.dn)));
  });
});

describe('paged listing through the production LdapDirectory', () => {
  test('12 marked objects with page size 2..5: more than one page, every object exactly once', async () => {
    // The 12 objects of the dry-run case are there; make sure of it (this test must stand alone too).
    let present = await dnsUnder(ou.paging, '(objectClass=computer)');
    if (present.length < 12)
      await asService(async (c) => {
        for (let k = present.length; k < 12; k++) await addComputer(c, ou.paging, { marker: true });
      });
    present = await dnsUnder(ou.paging, '(objectClass=computer)');
    expect(present).toHaveLength(12);
    const { deps } = runtime(ou.paging);
    for (const pageSize of [2, 3, 5]) {
      const dir = productDirectory(deps.settings, pageSize);
      const pages: ComputerObject[][] = [];
      for await (const page of dir.listManaged()) pages.push(page);
      const listed = pages.flat().map((o) => o.dn.toLowerCase());
      // Samba does not enforce a page size: more than one page proves the client paged.
      expect(pages.length).toBe(Math.ceil(12 / pageSize));
      expect(pages.length).toBeGreaterThan(1);
      for (const p of pages) expect(p.length).toBeLessThanOrEqual(pageSize);
      expect(new Set(listed).size).toBe(listed.length); // no object twice
      expect(listed.sort()).toEqual(present); // and none missing
      for (const o of pages.flat()) {
        expect(o.marker).toMatchObject({ account: LAB_ACCOUNT, region: LAB_REGION });
        expect(o.marker?.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
      }
    }
  });
});

describe('leave on the real directory', () => {
  test('tree-deletes a computer object that has a child object', async () => {
    const pc = await asService((c) => addComputer(c, ou.leave, { marker: true }));
    fleet.addInstance({ instanceId: pc.instanceId, state: 'terminated' });
    // What Samba allows under a computer: a serviceConnectionPoint (a `container` is refused).
    const child = `CN=adjoin-h-scp,${pc.dn}`;
    await withAdmin((c) => c.add(child, [new Attribute({ type: 'objectClass', values: ['serviceConnectionPoint'] }), new Attribute({ type: 'keywords', values: ['adjoin lab test'] })]));
    expect(await dnsUnder(pc.dn)).toEqual(lower([pc.dn, child]));
    // Without the tree-delete control the directory refuses (so the child really matters).
    await expect(asService((c) => c.del(pc.dn))).rejects.toThrow(/non-leaf/i);

    const { engine } = runtime(ou.leave);
    const t0 = Date.now();
    const run = await engine.start('leave', terminatedEvent(pc.instanceId), { name: runName('leave') });
    ms['leave (tree delete)'] = Date.now() - t0;
    expect(run.error ?? '').toBe('');
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Delete computer objects', 'Record leave', 'Done']);
    expect(run.output).toMatchObject({ instanceId: pc.instanceId, outcome: 'left', deleted: 1, skipped: 0, failed: 0 });
    expect(await exists(pc.dn)).toBe(false);
    expect(await exists(child)).toBe(false);
    expect(await dnsUnder(ou.leave, '(objectClass=computer)')).toEqual([]);
  });

  test('a leave for an instance that is still running deletes nothing', async () => {
    const pc = await asService((c) => addComputer(c, ou.leave, { marker: true }));
    fleet.addInstance({ instanceId: pc.instanceId, state: 'running' });
    const { engine } = runtime(ou.leave);
    const run = await engine.start('leave', terminatedEvent(pc.instanceId), { name: runName('leave-alive') });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Nothing to delete', 'Done']);
    expect(outputOf(run, 'Find computer objects').found).toMatchObject({ outcome: 'instance-alive', objects: [] });
    expect(await exists(pc.dn)).toBe(true);
    // Once EC2 says terminated, the same leave removes it (the object was deletable all along).
    fleet.terminate(pc.instanceId);
    const later = await engine.start('leave', terminatedEvent(pc.instanceId), { name: runName('leave-later') });
    expect(later.status).toBe('SUCCEEDED');
    expect(later.output).toMatchObject({ outcome: 'left', deleted: 1 });
    expect(await exists(pc.dn)).toBe(false);
  });

  test('a leave never reaches an object outside the managed OU, even with the right marker', async () => {
    const outside = await withAdmin((c) => addComputer(c, ou.outside, { marker: true }));
    fleet.addInstance({ instanceId: outside.instanceId, state: 'terminated' });
    const { engine } = runtime(ou.leave);
    const run = await engine.start('leave', terminatedEvent(outside.instanceId), { name: runName('leave-outside') });
    expect(run.status).toBe('SUCCEEDED');
    expect(statePath(run)).toEqual(['Find computer objects', 'Anything to delete?', 'Nothing to delete', 'Done']);
    expect(outputOf(run, 'Find computer objects').found).toMatchObject({ outcome: 'nothing', objects: [] });
    expect(await exists(outside.dn)).toBe(true);
    // The service account could have deleted it (the OU is delegated like the managed one):
    // only the product's rules kept it. Proven by deleting it as the service account (a plain
    // delete: a TREE delete needs Delete-Subtree on the object, which only its creator has).
    await asService((c) => c.del(outside.dn));
    expect(await exists(outside.dn)).toBe(false);
  });
});
