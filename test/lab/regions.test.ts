/**
 * Two lab Regions on the REAL lab (issue 13, "Many Regions"): one lab instance in LAB_REGION and
 * one in LAB_REGION_2 (`world.launch({ region })`) both join through the synthesized join
 * machine (infra → ASL) run by the local engine with the real task handlers, real LDAPS to the
 * lab's Samba DC and the real join document; each EC2 event carries its instance's Region, and
 * labFleetFor gives each Region its own EC2/SSM view and Parameter Store. Results are read with
 * `ldapsearch` inside the DC namespace (world.dcLdapSearch, as the Administrator), never through
 * the product's code. Then a leave for the second Region's instance deletes its object only.
 * Root only (jest.lab.config.js).
 */
import { Control } from 'ldapts';
import { ec2StateEvent } from '../../cli/ec2-event';
import { LocalEngine, statePath } from '../../engine';
import { synthesizeDefinitions } from '../../infra/asl';
import * as world from '../../lab/world';
import { LAB_ACCOUNT, LAB_REGION, LAB_REGION_2, LabFleet, labDeps, labJoinSecretName, readParameter } from '../../lab/world/fleet';
import { labPaths } from '../../lab/world/paths';
import { TREE_DELETE_OID } from '../../tasks/adapters/ldap-directory';
import { formatMarker, MARKER_ATTRIBUTE } from '../../tasks/lib/marker';
import { adjoin, json } from './cli-helpers';
import { adminClient, ensureLab } from './helpers';

const ms: Record<string, number> = {};
const launched: string[] = [];
let restore: () => Promise<void> = () => Promise.resolve();
let engine: LocalEngine;
let one = ''; // LAB_REGION
let two = ''; // LAB_REGION_2

/** Every (dn, marker) whose marker names this instance in any Region, by ldapsearch in the DC. */
async function marked(instanceId: string): Promise<{ dn: string; marker: string }[]> {
  const d = world.labState().domain;
  const r = await world.dcLdapSearch(d.baseDn, `(${MARKER_ATTRIBUTE}=*:${instanceId})`, [MARKER_ATTRIBUTE], { asAdmin: true });
  if (r.exitCode !== 0) throw new Error(`ldapsearch exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
  const out: { dn: string; marker: string }[] = [];
  for (const block of r.stdout.split(/\n\n+/)) {
    const dn = /^dn: (.*)$/m.exec(block)?.[1];
    const marker = new RegExp(`^${MARKER_ATTRIBUTE}: (.*)$`, 'mi').exec(block)?.[1];
    if (dn !== undefined && marker !== undefined) out.push({ dn, marker });
  }
  return out;
}

const event = (instanceId: string, region: string, state: 'running' | 'terminated') => ec2StateEvent({ instanceId, state, account: LAB_ACCOUNT, region, time: new Date() });

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  const deps = labDeps();
  const defs = synthesizeDefinitions({ timings: { ...deps.settings.timings } }, { account: LAB_ACCOUNT, region: LAB_REGION });
  engine = new LocalEngine({ join: defs.join, leave: defs.leave }, { deps: () => Promise.resolve(deps), account: LAB_ACCOUNT, region: LAB_REGION });
  const t0 = Date.now();
  const a = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'region-one' } });
  launched.push(a.instanceId);
  const b = await world.launch({ tags: { 'Domain:Join': 'true', Name: 'region-two' }, region: LAB_REGION_2 });
  launched.push(b.instanceId);
  ms.launch = Date.now() - t0;
  one = a.instanceId;
  two = b.instanceId;
  expect(a.region).toBeUndefined(); // the default: LAB_REGION, recorded as before (nothing)
  expect(b.region).toBe(LAB_REGION_2);
  expect(world.labState().instances[two]?.privateDnsName).toMatch(new RegExp(`\\.${LAB_REGION_2}\\.compute\\.internal$`));
  expect((await world.status()).instances.find((i) => i.instanceId === two)?.region).toBe(LAB_REGION_2);
});

afterAll(async () => {
  try {
    for (const id of launched) await world.terminate(id).catch(() => undefined);
    // Whatever the test left (the first Region's object; anything after a failure): deleted as the Administrator.
    const admin = await adminClient();
    try {
      for (const id of launched) for (const { dn } of await marked(id)) await admin.del(dn, [new Control(TREE_DELETE_OID, { critical: true })]).catch(() => undefined);
    } finally {
      await admin.unbind();
    }
    for (const id of launched) expect(await marked(id)).toEqual([]);
  } finally {
    await restore();
    process.stderr.write(`lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
});

describe('two lab Regions on the real lab', () => {
  test('each instance joins through the join machine in its own Region; each object carries its own Region in the marker; a leave in the second Region deletes its object only', async () => {
    const paths = labPaths();
    const t0 = Date.now();
    const [runOne, runTwo] = await Promise.all([
      engine.start('join', event(one, LAB_REGION, 'running'), { name: `lab-region-one-${one}` }),
      engine.start('join', event(two, LAB_REGION_2, 'running'), { name: `lab-region-two-${two}` }),
    ]);
    ms.joins = Date.now() - t0;
    for (const run of [runOne, runTwo]) {
      expect([run.status, run.failedState, run.error, run.cause]).toEqual(['SUCCEEDED', undefined, undefined, undefined]);
      expect(statePath(run)).toContain('Record result');
    }

    // The markers, read in the DC: each object names its own instance's Region, and only that one.
    const m1 = await marked(one);
    const m2 = await marked(two);
    expect(m1.map((m) => m.marker)).toEqual([formatMarker({ account: LAB_ACCOUNT, region: LAB_REGION, instanceId: one })]);
    expect(m2.map((m) => m.marker)).toEqual([formatMarker({ account: LAB_ACCOUNT, region: LAB_REGION_2, instanceId: two })]);
    expect(m1[0]?.dn).not.toEqual(m2[0]?.dn);

    // The second Region's join ran there: its command is recorded in that Region, the status tags
    // were written through that Region's view, its one-time password came from (and was removed
    // from) that Region's Parameter Store; the first Region sees nothing of the instance.
    const fleetTwo = labDeps().fleetFor({ account: LAB_ACCOUNT, region: LAB_REGION_2 });
    const fleetOne = labDeps().fleetFor({ account: LAB_ACCOUNT, region: LAB_REGION });
    const joinCommand = new LabFleet().listCommands(two).find((c) => c.document === 'join');
    expect([joinCommand?.status, joinCommand?.region]).toEqual(['Success', LAB_REGION_2]);
    expect((await fleetTwo.describeInstance(two))?.tags).toMatchObject({ 'adjoin:status': 'joined' });
    expect(await fleetOne.describeInstance(two)).toBeUndefined();
    expect(await fleetTwo.describeInstance(one)).toBeUndefined();
    const otpTwo = labJoinSecretName(two);
    expect(readParameter(otpTwo, paths, LAB_REGION_2)).toBeUndefined();
    expect(readParameter(otpTwo, paths)).toBeUndefined();

    // A leftover one-time password in the second Region (as after a join stopped before Record result):
    // the leave there must remove it, and only there.
    await fleetTwo.putJoinSecret(two, 'leftover-of-a-stopped-join');
    expect(readParameter(otpTwo, paths, LAB_REGION_2)).toBeDefined();

    await world.terminate(two);
    const t1 = Date.now();
    const leave = await engine.start('leave', event(two, LAB_REGION_2, 'terminated'), { name: `lab-region-leave-${two}` });
    ms.leave = Date.now() - t1;
    expect([leave.status, leave.failedState, leave.error, leave.cause]).toEqual(['SUCCEEDED', undefined, undefined, undefined]);

    expect(await marked(two)).toEqual([]);
    expect((await marked(one)).map((m) => m.dn)).toEqual(m1.map((m) => m.dn)); // the first Region's object stays
    expect(readParameter(otpTwo, paths, LAB_REGION_2)).toBeUndefined();
  });

  test('the CLI: `adjoin lab launch --region eu-central-1` joins in that Region (status shows it), `lab terminate --region` leaves there', async () => {
    const bad = await adjoin('lab', 'launch', '--region', 'us-east-1', '--tag', 'Domain:Join=true');
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--region must be a lab Region') as unknown]);

    const t0 = Date.now();
    const r = await adjoin('lab', 'launch', '--region', LAB_REGION_2, '--tag', 'Domain:Join=true', '--json');
    ms['cli launch+join'] = Date.now() - t0;
    const out = json<{ instances: { instanceId: string; region?: string }[]; executions: { status: string }[] }>(r.out);
    const id = out.instances[0]?.instanceId ?? '';
    if (id) launched.push(id);
    expect([r.code, out.instances[0]?.region, out.executions[0]?.status]).toEqual([0, LAB_REGION_2, 'SUCCEEDED']);
    expect((await marked(id)).map((m) => m.marker)).toEqual([formatMarker({ account: LAB_ACCOUNT, region: LAB_REGION_2, instanceId: id })]);
    const st = await adjoin('lab', 'status');
    expect(st.out).toMatch(new RegExp(`${id} +running +${LAB_REGION_2} `));

    const t1 = Date.now();
    const left = await adjoin('lab', 'terminate', '--region', LAB_REGION_2, id, '--json');
    ms['cli terminate+leave'] = Date.now() - t1;
    expect([left.code, json<{ execution: { status: string } }>(left.out).execution.status]).toEqual([0, 'SUCCEEDED']);
    expect(await marked(id)).toEqual([]);
  });
});
