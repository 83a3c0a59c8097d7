/**
 * The Auto Scaling hook path and OU routing on the REAL lab: the synthesized join and
 * join-cleanup machines (infra → ASL, lifecycle hooks on) run by the local engine with the real
 * task handlers, real LDAPS to the lab's Samba DC, real lab instances running the real join
 * document. Auto Scaling itself is the simulated group of lab/world/autoscaling.ts (the lab has
 * no Auto Scaling): the instance waits in Pending:Wait until the workflow answers; an ABANDON
 * terminates the real lab instance. Results are read with `ldapsearch` inside the DC namespace
 * (world.dcLdapSearch, as the Administrator), never through the product's code. Root only.
 *
 * Isolation: the routed OU is a fresh sub-OU of the lab's managed OU (it inherits the service
 * account's container-inherit delegation), tree-deleted in afterAll.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Control } from 'ldapts';
import { LocalEngine, statePath } from '../../engine';
import { synthesizeDefinitions, type ConfigOverrides } from '../../infra/asl';
import { hookNames } from '../../infra/entry-rules';
import { cleanUpFailedJoins, type RecordingHistory } from '../../lab/sim/cleanup';
import type { SimLifecycleAction } from '../../lab/sim/fleet';
import * as world from '../../lab/world';
import { LabAutoScaling } from '../../lab/world/autoscaling';
import { LAB_ACCOUNT, LAB_REGION, labDeps } from '../../lab/world/fleet';
import { TREE_DELETE_OID } from '../../tasks/adapters/ldap-directory';
import type { Deps } from '../../tasks/lib/deps';
import { formatMarker, MARKER_ATTRIBUTE } from '../../tasks/lib/marker';
import { adminClient, ensureLab } from './helpers';

const HOOKS = hookNames('adjoin');
const ms: Record<string, number> = {};
const launched: string[] = [];
let restore: () => Promise<void> = () => Promise.resolve();
let routedOu = '';
let asg: LabAutoScaling;
let engine: LocalEngine;
/** The same machines with "Wait for SSM Online" polling once (1 s): a join that fails fast. */
let impatient: LocalEngine;

const lifecycleEvent = (a: SimLifecycleAction): Record<string, unknown> => ({
  version: '0',
  id: `lab-${a.lifecycleActionToken}`,
  'detail-type': 'EC2 Instance-launch Lifecycle Action',
  source: 'aws.autoscaling',
  account: LAB_ACCOUNT,
  region: LAB_REGION,
  time: new Date().toISOString(),
  resources: [],
  detail: {
    LifecycleActionToken: a.lifecycleActionToken,
    AutoScalingGroupName: a.autoScalingGroupName,
    LifecycleHookName: a.lifecycleHookName,
    EC2InstanceId: a.instanceId,
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  },
});

/** DNs carrying this instance's marker anywhere in the domain, by ldapsearch in the DC. */
async function markedDns(instanceId: string): Promise<string[]> {
  const d = world.labState().domain;
  const marker = formatMarker({ account: LAB_ACCOUNT, region: LAB_REGION, instanceId });
  const r = await world.dcLdapSearch(d.baseDn, `(${MARKER_ATTRIBUTE}=${marker})`, ['1.1'], { asAdmin: true });
  if (r.exitCode !== 0) throw new Error(`ldapsearch exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('dn: ')).map((l) => l.slice(4));
}

async function launchInGroup(tags: Record<string, string>, ssmDelaySeconds?: number): Promise<{ instanceId: string; action: SimLifecycleAction }> {
  const i = await world.launch({ tags: { 'Domain:Join': 'true', ...tags }, ...(ssmDelaySeconds !== undefined ? { ssmDelaySeconds } : {}) });
  launched.push(i.instanceId);
  const action = asg.launched(i.instanceId);
  if (!action) throw new Error('the lab group has no launch hook');
  return { instanceId: i.instanceId, action };
}

beforeAll(async () => {
  const lab = await ensureLab();
  restore = lab.restore;
  if (lab.startedHere) ms['lab up'] = lab.upMs;
  const d = world.labState().domain;
  routedOu = `OU=adjoin-routed-${randomBytes(3).toString('hex')},${d.managedOu}`;
  const admin = await adminClient();
  try {
    await admin.add(routedOu, [new Attribute({ type: 'objectClass', values: ['organizationalUnit'] })]);
  } finally {
    await admin.unbind();
  }
  asg = new LabAutoScaling({ name: 'lab-web', hooks: { launch: HOOKS.launch, terminate: HOOKS.terminate }, heartbeatTimeoutSeconds: 600, defaultResult: 'ABANDON' });
  const base = labDeps({ customize: (s) => void (s.lifecycle = { onJoinFailure: 'ABANDON' }) });
  const deps: Deps = { ...base, fleetFor: (t) => asg.fleet(base.fleetFor(t)) };
  const t = base.settings.timings;
  const defs = synthesizeDefinitions(
    { timings: { ...t }, lifecycle: { enabled: true } } as ConfigOverrides,
    { account: LAB_ACCOUNT, region: LAB_REGION },
  );
  const options = { deps: () => Promise.resolve(deps), account: LAB_ACCOUNT, region: LAB_REGION, onEnd: cleanUpFailedJoins(deps.executions as RecordingHistory) };
  engine = new LocalEngine({ join: defs.join, 'join-cleanup': defs['join-cleanup'] }, options);
  const join = structuredClone(defs.join) as { States: Record<string, { Retry?: { ErrorEquals: string[]; MaxAttempts: number; IntervalSeconds: number }[] }> };
  const poll = join.States['Wait for SSM Online']?.Retry?.find((r) => r.ErrorEquals.includes('SsmAgentNotOnline'));
  if (!poll) throw new Error('no SsmAgentNotOnline retry on "Wait for SSM Online"');
  Object.assign(poll, { MaxAttempts: 1, IntervalSeconds: 1 });
  impatient = new LocalEngine({ join, 'join-cleanup': defs['join-cleanup'] }, options);
});

afterAll(async () => {
  try {
    for (const id of launched) await world.terminate(id).catch(() => undefined);
    const admin = await adminClient();
    try {
      // Tree delete (the routed OU and the computer joined into it).
      await admin.del(routedOu, [new Control(TREE_DELETE_OID, { critical: true })]).catch(() => undefined);
    } finally {
      await admin.unbind();
    }
    const left = await world.dcLdapSearch(routedOu, '(objectClass=*)', ['1.1'], { scope: 'base', asAdmin: true });
    expect(left.exitCode).toBe(32); // no such object
  } finally {
    await restore();
    process.stderr.write(`lab timings (ms): ${JSON.stringify(ms)}\n`);
  }
});

describe('Auto Scaling launch hook + OU routing on the real lab', () => {
  test('the instance waits in Pending:Wait, joins into the OU its adjoin:ou tag names (ldapsearch), then CONTINUE → InService', async () => {
    const { instanceId, action } = await launchInGroup({ 'adjoin:ou': routedOu });
    expect(asg.lifecycleState(instanceId)).toBe('Pending:Wait');

    const t0 = Date.now();
    const run = await engine.start('join', lifecycleEvent(action), { name: `lab-hook-${instanceId}` });
    ms['hook join'] = Date.now() - t0;

    expect([run.status, run.failedState, run.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
    expect(statePath(run)).toContain('Record result');
    expect(run.output).toMatchObject({ outcome: 'joined', lifecycle: { result: 'CONTINUE', accepted: true } });
    expect(action.answer).toBe('CONTINUE');
    expect(asg.lifecycleState(instanceId)).toBe('InService');
    // The object sits in the routed OU, and nowhere else (read by ldapsearch in the DC).
    const dns = await markedDns(instanceId);
    expect(dns).toHaveLength(1);
    expect(dns[0]?.toLowerCase().endsWith(`,${routedOu.toLowerCase()}`)).toBe(true);
    // A directory user resolves inside the instance (SSSD after the real join).
    const r = await world.exec(instanceId, ['getent', 'passwd', 'alice'], { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
  });

  test('a failed join (SSM never Online): fails at "Wait for SSM Online", the cleanup ABANDONs, the lab instance is terminated', async () => {
    const { instanceId, action } = await launchInGroup({}, 3600);

    const t0 = Date.now();
    const run = await impatient.start('join', lifecycleEvent(action), { name: `lab-failed-${instanceId}` });
    ms['failed join'] = Date.now() - t0;

    expect([run.status, run.failedState, run.error]).toEqual(['FAILED', 'Wait for SSM Online', 'SsmAgentNotOnline']);
    expect(action.answer).toBe('ABANDON');
    expect(asg.lifecycleState(instanceId)).toBe('Terminated');
    expect(asg.terminated).toContain(instanceId);
    expect(world.labState().instances[instanceId]?.state).toMatch(/shutting-down|terminated/);
    expect(await markedDns(instanceId)).toEqual([]);
  });

  test('a refused OU (outside the managed OUs): the join fails at "Read instance", the cleanup ABANDONs, the lab instance is terminated, nothing in the directory', async () => {
    const outside = `CN=Computers,${world.labState().domain.baseDn}`;
    const { instanceId, action } = await launchInGroup({ 'adjoin:ou': outside });

    const t0 = Date.now();
    const run = await engine.start('join', lifecycleEvent(action), { name: `lab-refused-${instanceId}` });
    ms['refused'] = Date.now() - t0;

    expect([run.status, run.failedState, run.error]).toEqual(['FAILED', 'Read instance', 'InvalidInput']);
    expect(run.cause).toMatch(/Tag adjoin:ou=.*is refused/);
    expect(action.answer).toBe('ABANDON');
    expect(asg.terminated).toContain(instanceId);
    expect(world.labState().instances[instanceId]?.state).toMatch(/shutting-down|terminated/);
    expect(await markedDns(instanceId)).toEqual([]);
  });
});
