/**
 * Issue 13 in the synthesized stacks of infra/sample-config.organization.json: the tag-change
 * rule's pattern (evaluated against sample events: noise starts no execution), the lifecycle
 * rules and hooks, attachTo, IAM for lifecycle answers and many Regions, member stacks per
 * account × Region forwarding to the orchestrator's Region, the StackSet, two directories.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { loadConfigFile, resolveConfig, toSettings, type ResolvedConfig } from '../../infra/config';
import { Adjoin } from '../../infra/adjoin';
import { memberTemplate } from '../../infra/stacks';
import { lifecyclePattern, tagChangePattern } from '../../infra/entry-rules';
import { parseEntry } from '../../tasks/lib/entry';
import { route } from '../../tasks/lib/routing';
import { matches, normalise } from './event-pattern';
import { build, InfraDir, nagFindings, sampleConfig, type Built } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

const ORG_FILE = path.join(InfraDir, 'sample-config.organization.json');
const orgConfig = (change: (raw: Record<string, unknown>) => void = () => undefined): ResolvedConfig => {
  const raw = JSON.parse(fs.readFileSync(ORG_FILE, 'utf8')) as Record<string, unknown>;
  change(raw);
  return resolveConfig(raw, { baseDir: InfraDir });
};

let built: Built;
let resources: Record<string, Resource>;
beforeAll(() => {
  built = build(loadConfigFile(ORG_FILE));
  resources = built.template.toJSON().Resources as Record<string, Resource>;
});
const ofType = (rs: Record<string, Resource>, type: string): Resource[] => Object.values(rs).filter((r) => r.Type === type);
const ruleNamed = (name: string): Resource => {
  const rule = ofType(resources, 'AWS::Events::Rule').find((r) => r.Properties.Name === name);
  if (!rule) throw new Error(`no rule ${name}`);
  return rule;
};

// ---- sample events -------------------------------------------------------------------------
const ARN = 'arn:aws:ec2:eu-west-1:222222222222:instance/i-0123456789abcdef0';
const tagEvent = (changed: string[], tags: Record<string, string>, over: Record<string, unknown> = {}) => ({
  version: '0', id: 'bddcf1d6-0251-35a1-aab0-adc1fb47c11c', 'detail-type': 'Tag Change on Resource', source: 'aws.tag',
  account: '222222222222', time: '2026-11-21T10:00:00Z', region: 'eu-west-1', resources: [ARN],
  detail: { 'changed-tag-keys': changed, service: 'ec2', 'resource-type': 'instance', version: 4, tags }, ...over,
});

describe('the tag-change rule', () => {
  const pattern = (): Record<string, unknown> => ruleNamed('adjoin-tag-change').Properties.EventPattern as Record<string, unknown>;
  const settings = () => toSettings(loadConfigFile(ORG_FILE));

  it('starts the join machine', () => {
    // Assess
    expect(JSON.stringify(ruleNamed('adjoin-tag-change').Properties.Targets)).toMatch(/JoinStateMachine|Join/);
    expect(pattern()).toEqual(normalise(tagChangePattern(loadConfigFile(ORG_FILE).tags) as Record<string, unknown>));
  });

  it.each([
    ['the opt-in tag added', tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }), 'join'],
    ['the opt-in tag with another tag', tagEvent(['Domain:Join', 'Name'], { 'Domain:Join': 'true', Name: 'web' }), 'join'],
    ['the opt-out tag set in another case', tagEvent(['autoadjoin'], { 'Domain:Join': 'true', autoadjoin: 'FALSE' }), 'none'],
    ['the opt-out tag set', tagEvent(['autoadjoin'], { 'Domain:Join': 'true', autoadjoin: 'false' }), 'none'],
  ])('matches %s (and the task reads it as %s)', (_what, event, action) => {
    // Act / Assess
    expect(matches(pattern(), event)).toBe(true);
    expect(parseEntry(event, settings()).action).toBe(action);
  });

  it.each([
    ['our own status tags', tagEvent(['adjoin:status', 'adjoin:execution'], { 'Domain:Join': 'true', 'adjoin:status': 'joined' })],
    ['an unrelated tag', tagEvent(['Name'], { 'Domain:Join': 'true', Name: 'web' })],
    ['the opt-in tag deleted', tagEvent(['Domain:Join'], { Name: 'web' })],
    ['the opt-in tag set to another value', tagEvent(['Domain:Join'], { 'Domain:Join': 'false' })],
    // Opt-in compared exactly, as the task (tasks/lib/tags.ts) and the IAM condition on SendCommand do.
    ['the opt-in tag set in another case', tagEvent(['Domain:Join'], { 'Domain:Join': 'TRUE' })],
    ['a volume', tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }, { detail: { 'changed-tag-keys': ['Domain:Join'], service: 'ec2', 'resource-type': 'volume', tags: { 'Domain:Join': 'true' } } })],
    ['another service', tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }, { source: 'aws.ec2' })],
  ])('ignores %s: no execution', (_what, event) => {
    // Act / Assess
    expect(matches(pattern(), event)).toBe(false);
  });
});

describe('Auto Scaling lifecycle', () => {
  const launch = {
    version: '0', id: '1', 'detail-type': 'EC2 Instance-launch Lifecycle Action', source: 'aws.autoscaling', account: '222222222222', region: 'eu-west-1',
    resources: [], detail: { LifecycleActionToken: '87654321-4321-4321-4321-210987654321', AutoScalingGroupName: 'web-fleet', LifecycleHookName: 'adjoin-join',
      EC2InstanceId: 'i-0123456789abcdef0', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
  };

  it('sends our launch actions to join and our terminate actions to leave, and no other hook', () => {
    // Prepare
    const launchRule = ruleNamed('adjoin-lifecycle-launch');
    const terminateRule = ruleNamed('adjoin-lifecycle-terminate');
    const other = { ...launch, detail: { ...launch.detail, LifecycleHookName: 'someone-elses-hook' } };
    // Act / Assess
    expect(matches(launchRule.Properties.EventPattern as Record<string, unknown>, launch)).toBe(true);
    expect(matches(launchRule.Properties.EventPattern as Record<string, unknown>, other)).toBe(false);
    expect(matches(terminateRule.Properties.EventPattern as Record<string, unknown>, launch)).toBe(false);
    expect(JSON.stringify(launchRule.Properties.Targets)).toContain('Join');
    expect(JSON.stringify(terminateRule.Properties.Targets)).toContain('Leave');
    expect(normalise(lifecyclePattern('terminate', 'adjoin') as Record<string, unknown>)).toEqual(terminateRule.Properties.EventPattern);
  });

  it('hooks the named group: launch defaults to the configured ABANDON, terminate to CONTINUE', () => {
    // Assess
    built.template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      AutoScalingGroupName: 'web-fleet', LifecycleHookName: 'adjoin-join', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', HeartbeatTimeout: 1800, DefaultResult: 'ABANDON',
    });
    built.template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      AutoScalingGroupName: 'web-fleet', LifecycleHookName: 'adjoin-leave', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', DefaultResult: 'CONTINUE',
    });
  });

  it('lets the record tasks answer hooks only of named or adjoin-tagged groups, in any Region', () => {
    // Prepare
    const policies = ofType(resources, 'AWS::IAM::Policy').flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    const answer = policies.filter((s) => [s.Action].flat().includes('autoscaling:CompleteLifecycleAction'));
    // Assess
    expect(answer.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(answer)).toContain(':autoscaling:*:');
    expect(JSON.stringify(answer)).toContain('autoScalingGroupName/web-fleet');
    expect(answer.filter((s) => JSON.stringify(s.Resource).endsWith('autoScalingGroupName/*"]]}'))).toEqual(
      answer.filter((s) => s.Condition?.StringEquals?.['autoscaling:ResourceTag/adjoin:lifecycle'] === 'adjoin' && JSON.stringify(s.Resource).endsWith('autoScalingGroupName/*"]]}')),
    );
  });

  it('attachTo adds both hooks to a user group and tags it; refuses when lifecycle is off', () => {
    // Prepare
    const make = (config: ResolvedConfig) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'User', { env: { account: '111111111111', region: 'eu-west-1' } });
      const adjoin = new Adjoin(stack, 'Adjoin', { config });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
      const asg = new autoscaling.AutoScalingGroup(stack, 'Web', {
        vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      });
      return { stack, adjoin, asg };
    };
    const on = make(orgConfig());
    const off = make(sampleConfig());
    // Act
    on.adjoin.attachTo(on.asg);
    // Assess
    const t = Template.fromStack(on.stack);
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: 'adjoin-join', DefaultResult: 'ABANDON', HeartbeatTimeout: 1800, AutoScalingGroupName: Match.anyValue() });
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: 'adjoin-leave', DefaultResult: 'CONTINUE' });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { Tags: Match.arrayWith([Match.objectLike({ Key: 'adjoin:lifecycle', Value: 'adjoin' })]) });
    expect(() => off.adjoin.attachTo(off.asg)).toThrow(/lifecycle\.enabled=true/);
  });
});

describe('many Regions and accounts', () => {
  it('puts a member stack in each account × Region; the role once per account', () => {
    // Act
    const where = built.members.map((m) => `${m.account}/${m.region}:${Object.keys(m.roles).length > 0 ? 'role' : '-'}`);
    // Assess
    expect(where).toEqual(['222222222222/eu-west-1:role', '222222222222/eu-central-1:-', '333333333333/eu-west-1:role']);
  });

  it('forwards events from another Region to the orchestrator bus in its own Region', () => {
    // Prepare
    const central = Template.fromStack(built.members[1]!);
    const rules = Object.values(central.findResources('AWS::Events::Rule')) as Resource[];
    // Assess
    expect(rules.map((r) => r.Properties.Name).sort()).toEqual([
      'adjoin-forward-instance-states', 'adjoin-forward-lifecycle-launch', 'adjoin-forward-lifecycle-terminate', 'adjoin-forward-tag-changes',
    ]);
    for (const r of rules) expect(JSON.stringify(r.Properties.Targets)).toContain(':events:eu-west-1:111111111111:event-bus/default');
  });

  it('names every Region in the fleet statements (no instance ARN pinned to the orchestrator Region)', () => {
    // Prepare
    const text = JSON.stringify(ofType(resources, 'AWS::IAM::Policy'));
    // Assess
    expect(text).toContain(':ec2:*:');
    expect(text).not.toMatch(/:ec2:",\{"Ref":"AWS::Region"\},":[^"]*instance\//);
  });

  it('deploys the member template to the organization OUs with a service-managed StackSet', () => {
    // Prepare
    const [set] = ofType(resources, 'AWS::CloudFormation::StackSet');
    // Over the inline limit (per-task roles, the join document) the template goes as a file asset.
    const inline = set!.Properties.TemplateBody as string | undefined;
    const body = (inline !== undefined ? JSON.parse(inline) : memberTemplate(loadConfigFile(ORG_FILE))) as { Resources: Record<string, Resource>; Conditions: Record<string, unknown> };
    if (inline === undefined) expect(JSON.stringify(set!.Properties.TemplateURL)).toMatch(/\.json/);
    // Assess
    expect(set!.Properties).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED', AutoDeployment: { Enabled: true },
      StackInstancesGroup: [{ DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-cd34ef56'] }, Regions: ['eu-west-1', 'eu-central-1'] }],
    });
    expect(body.Conditions).toHaveProperty('PrimaryRegion');
    // Account-wide IAM: every member role, its policy and the instance policy only in the primary Region.
    const iamOfMembers = Object.entries(body.Resources).filter(([id, r]) => (r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy') && /role[0-9A-F]{8}$|roleDefaultPolicy/.test(id) && !id.includes('EventsRole'));
    expect(iamOfMembers.length).toBeGreaterThanOrEqual(2 * 11);
    for (const [, r] of iamOfMembers) expect(r.Condition).toBe('PrimaryRegion');
    expect(Object.values(body.Resources).find((r) => r.Type === 'AWS::IAM::ManagedPolicy')?.Condition).toBe('PrimaryRegion');
    // The OTP key lives in every Region (a KMS key is Regional): no PrimaryRegion condition on it.
    const otpKeys = Object.values(body.Resources).filter((r) => r.Type === 'AWS::KMS::Key' && String((r.Properties as { Description?: string }).Description).includes('one-time join passwords'));
    expect(otpKeys).toHaveLength(1);
    expect(otpKeys[0]?.Condition).toBeUndefined();
    expect(JSON.stringify(body)).toContain(':events:eu-west-1:111111111111:event-bus/default');
    built.template.hasResourceProperties('AWS::Events::EventBusPolicy', { StatementId: 'adjoin-organization', Statement: Match.objectLike({ Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }) });
  });

  it('passes cdk-nag in every stack', () => {
    // Assess
    for (const stack of [built.orchestrator, ...built.members]) expect(nagFindings(stack)).toEqual([]);
  });
});

describe('many directories', () => {
  it('gives the tasks every directory and the routing, and routes as configured', () => {
    // Act
    const settings = toSettings(loadConfigFile(ORG_FILE));
    // Assess
    expect(Object.keys(settings.directories ?? {})).toEqual(['corp', 'eu']);
    expect(settings.directory.netbiosName).toBe('CORP');
    expect(settings.directories?.eu?.caParameterName).toBe('/adjoin/ca-bundle-eu');
    expect(route(settings, { account: '222222222222', region: 'eu-central-1', tags: {} }).directory).toBe('eu');
    expect(route(settings, { account: '222222222222', region: 'eu-west-1', tags: {} }).directory).toBe('corp');
    built.template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/adjoin/ca-bundle-eu' });
  });

  it('lets the directory tasks read both bind secrets', () => {
    // Prepare
    const text = JSON.stringify(ofType(resources, 'AWS::IAM::Policy'));
    // Assess
    expect(text).toContain('secret:adjoin/directory-bind-AbCdEf');
    expect(text).toContain('secret:adjoin/eu-directory-bind-GhIjKl');
  });
});

describe('configuration of the reach', () => {
  it.each([
    ['both directory and directories', (r: Record<string, unknown>) => void (r.directory = (r.directories as Record<string, unknown>).corp), /directories: give either directory/],
    ['a rule naming an unknown directory', (r: Record<string, unknown>) => void ((r.routing as { rules: { directory: string }[] }).rules[0]!.directory = 'us'), /routing\.rules\[0\]\.directory: must be one of corp, eu/],
    ['a rule OU outside its directory', (r: Record<string, unknown>) => void ((r.routing as { rules: { computerOu?: string }[] }).rules[1]!.computerOu = 'OU=Computers,OU=CORP,DC=corp,DC=example,DC=com'), /routing\.rules\[1\]\.computerOu: must be an OU inside the managed OUs of directory eu/],
    ['a StackSet without OUs', (r: Record<string, unknown>) => void delete (r.members as Record<string, unknown>).organizationalUnitIds, /members\.organizationalUnitIds: is required with deployment stackset/],
    ['a bad lifecycle result', (r: Record<string, unknown>) => void ((r.lifecycle as Record<string, unknown>).onJoinFailure = 'RETRY'), /lifecycle\.onJoinFailure: must be ABANDON or CONTINUE/],
    ['a bad directory in directories', (r: Record<string, unknown>) => void ((r.directories as Record<string, Record<string, unknown>>).eu!.netbiosName = 'NOT A NAME'), /directories\.eu\.netbiosName/],
  ])('refuses %s', (_what, change, message) => {
    // Act / Assess
    expect(() => orgConfig(change)).toThrow(message);
  });

  it('tags.leaveOnOptOut: the opt-out (exact value) goes to the leave machine by its own rule; the join rule keeps the opt-in only', () => {
    // Prepare
    const on = build(orgConfig((r) => void ((r.tags as Record<string, unknown>).leaveOnOptOut = true)));
    const rules = Object.values(on.template.findResources('AWS::Events::Rule')) as Resource[];
    const named = (name: string) => rules.find((r) => r.Properties.Name === name);
    const optOutRule = named('adjoin-tag-opt-out');
    const joinRule = named('adjoin-tag-change');
    const optOut = tagEvent(['autoadjoin'], { 'Domain:Join': 'true', autoadjoin: 'false' });
    // Assess
    expect(JSON.stringify(optOutRule?.Properties.Targets)).toMatch(/Leave/);
    expect(JSON.stringify(optOutRule?.Properties.Targets)).not.toMatch(/JoinStateMachine/);
    expect(JSON.stringify(joinRule?.Properties.Targets)).not.toMatch(/Leave/);
    const leavePattern = optOutRule?.Properties.EventPattern as Record<string, unknown>;
    const joinPattern = joinRule?.Properties.EventPattern as Record<string, unknown>;
    expect([matches(leavePattern, optOut), matches(joinPattern, optOut)]).toEqual([true, false]);
    expect(matches(leavePattern, tagEvent(['autoadjoin'], { autoadjoin: 'FALSE' }))).toBe(false);
    expect(matches(leavePattern, tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }))).toBe(false);
    expect(matches(joinPattern, tagEvent(['Domain:Join'], { 'Domain:Join': 'true' }))).toBe(true);
    // Without the flag (the sample): no rule sends a tag change to the leave machine.
    expect(ofType(resources, 'AWS::Events::Rule').map((r) => r.Properties.Name)).not.toContain('adjoin-tag-opt-out');
    expect(matches(ruleNamed('adjoin-tag-change').Properties.EventPattern as Record<string, unknown>, optOut)).toBe(true); // the join machine records it
  });

  it('keeps the quick start as it was: no reach resources', () => {
    // Prepare
    const quick = build(sampleConfig());
    // Assess
    expect(quick.template.findResources('AWS::CloudFormation::StackSet')).toEqual({});
    expect(quick.template.findResources('AWS::AutoScaling::LifecycleHook')).toEqual({});
    expect(Object.values(quick.template.findResources('AWS::Events::Rule')).map((r) => (r as Resource).Properties.Name)).not.toContain('adjoin-tag-change');
  });
});
