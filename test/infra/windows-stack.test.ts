/**
 * Windows in the synthesized templates (issue 14): with windows.enabled, the Windows join
 * document (a pattern on every parameter, the one-time password only as a secure-string
 * reference) in the orchestrator and member accounts, and ssm:SendCommand for it only in the
 * role of "Run Windows join document", only to opted-in instances; without it, none of that.
 */
import { synthesizeDefinitions } from '../../infra/asl';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigurationError } from '../../tasks/lib/errors';
import { validateSettings } from '../../tasks/lib/settings';
import { TaskIds } from '../../tasks/registry';
import { build, nagFindings, sampleConfig, type Built } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: Record<string, unknown> };
type DocumentContent = {
  parameters: Record<string, { type: string; allowedPattern?: string; default?: string }>;
  mainSteps: { action: string; precondition: unknown; inputs: { runCommand: string[]; timeoutSeconds: string } }[];
};

const enabled = (change: Record<string, unknown> = {}) => sampleConfig((c) => {
  c.memberAccounts = ['222222222222'];
  (c as { windows?: unknown }).windows = { enabled: true, ...change };
});
const resourcesOf = (t: Template): Record<string, Resource> => t.toJSON().Resources as Record<string, Resource>;
const ofType = (rs: Record<string, Resource>, type: string): [string, Resource][] => Object.entries(rs).filter(([, r]) => r.Type === type);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every policy statement attached to a role (by logical id), in a template. */
function roleStatements(rs: Record<string, Resource>, roleId: string): Statement[] {
  return ofType(rs, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const roleIdOf = (rs: Record<string, Resource>, roleName: string): string =>
  ofType(rs, 'AWS::IAM::Role').find(([, r]) => r.Properties.RoleName === roleName)?.[0] ?? '';
function taskStatements(rs: Record<string, Resource>, taskId: string): Statement[] {
  const [, fn] = ofType(rs, 'AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `adjoin-${taskId}`) ?? [];
  if (!fn) throw new Error(`no function for ${taskId}`);
  return roleStatements(rs, (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
}
const sends = (statements: Statement[]): Statement[] => statements.filter((s) => actionsOf(s).includes('ssm:SendCommand'));
const windowsDocument = (rs: Record<string, Resource>): Resource | undefined =>
  ofType(rs, 'AWS::SSM::Document').find(([, r]) => r.Properties.Name === 'adjoin-join-windows')?.[1];

describe('windows.enabled: the Windows join document and who may send it', () => {
  let built: Built;
  let rs: Record<string, Resource>;
  let member: Record<string, Resource>;
  beforeAll(() => {
    built = build(enabled());
    rs = resourcesOf(built.template);
    member = resourcesOf(Template.fromStack(built.members[0]!));
  });

  it('deploys the Windows join document in the orchestrator and the member account: PowerShell, Windows only, a pattern on every parameter', () => {
    for (const resources of [rs, member]) {
      const doc = windowsDocument(resources);
      expect(doc?.Properties).toMatchObject({ DocumentType: 'Command', DocumentFormat: 'JSON', UpdateMethod: 'NewVersion', TargetType: '/AWS::EC2::Instance' });
      const content = doc?.Properties.Content as DocumentContent;
      expect(content.mainSteps).toHaveLength(1);
      expect(content.mainSteps[0]).toMatchObject({ action: 'aws:runPowerShellScript', precondition: { StringEquals: ['platformType', 'Windows'] } });
      // The Windows deadline (default 1800 s: the reboot included), not the Linux one.
      expect(content.mainSteps[0]?.inputs.timeoutSeconds).toBe('1800');
      const names = Object.keys(content.parameters);
      expect(names.sort()).toEqual(['AdminGroups', 'AdministratorsGroup', 'ComputerName', 'ComputerOu', 'DomainControllers', 'DomainName', 'HostFqdn',
        'LoginGroups', 'NetbiosName', 'OneTimePassword', 'ProbeUsers', 'RemoteDesktopGroup']);
      for (const n of names) expect(content.parameters[n]?.allowedPattern).toMatch(/^\^.*\$$/);
      const otp = new RegExp(content.parameters.OneTimePassword?.allowedPattern ?? '^$');
      expect(otp.test('{{ssm-secure:/adjoin/otp/i-0123456789abcdef0}}')).toBe(true);
      expect(otp.test('Sup3r-Secret!')).toBe(false);
    }
  });

  it('ssm:SendCommand of the Windows document: only "Run Windows join document", only to opted-in instances', () => {
    const senders = TaskIds.filter((id) => JSON.stringify(sends(taskStatements(rs, id))).includes('document/adjoin-join-windows'));
    expect(senders).toEqual(['run-windows-join-document']);
    const win = sends(taskStatements(rs, 'run-windows-join-document'));
    // Its own document only (not the Linux one), and instances only with the opt-in tag.
    const documents = win.filter((s) => JSON.stringify(s.Resource).includes(':document/'));
    expect(documents).toHaveLength(1);
    expect(JSON.stringify(documents[0]?.Resource)).toMatch(/document\/adjoin-join-windows"/);
    const toInstances = win.find((s) => JSON.stringify(s.Resource).includes(':instance/*'));
    expect(toInstances?.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Domain:Join': 'true' } });
    expect(win).toHaveLength(2);
    // The Linux task still sends only the Linux document.
    expect(JSON.stringify(sends(taskStatements(rs, 'run-join-document')))).not.toContain('join-windows');
  });

  it('the member account: only the member role of "Run Windows join document" may send it, with the same tag condition', () => {
    const roles = ofType(member, 'AWS::IAM::Role').map(([id, r]) => [id, r.Properties.RoleName as string] as const);
    const senders = roles.filter(([id]) => JSON.stringify(sends(roleStatements(member, id))).includes('join-windows')).map(([, name]) => name);
    expect(senders).toEqual(['adjoin-member-run-windows-join-document']);
    const win = sends(roleStatements(member, roleIdOf(member, 'adjoin-member-run-windows-join-document')));
    expect(win.find((s) => JSON.stringify(s.Resource).includes(':instance/*'))?.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Domain:Join': 'true' } });
  });

  it('the task Lambdas get the Windows settings and the document name', () => {
    const [, fn] = ofType(rs, 'AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === 'adjoin-run-windows-join-document') ?? [];
    const env = (fn?.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const settings = validateSettings(JSON.parse(env.ADJOIN_SETTINGS ?? ''));
    expect(settings.windows).toEqual({ commandDeadlineSeconds: 1800, ssmOnlineDeadlineSeconds: 1200, remoteDesktopGroup: 'Remote Desktop Users', administratorsGroup: 'Administrators', adminGroups: [] });
    expect(settings.documents.joinWindows).toBe('adjoin-join-windows');
  });

  it('the join machine outlasts the Windows deadline', () => {
    const [, machine] = ofType(rs, 'AWS::StepFunctions::StateMachine').find(([, r]) => r.Properties.StateMachineName === 'adjoin-join') ?? [];
    const text = JSON.stringify(machine?.Properties.DefinitionString);
    const timeout = Number(/\\"TimeoutSeconds\\":(\d+)/.exec(text)?.[1]);
    expect(timeout).toBeGreaterThanOrEqual(2 * 1800);
  });

  it('"Wait for SSM Online" stays one state; its retries cover the Windows SSM deadline (the longer one), the Linux one is left to the task', () => {
    type State = { Retry?: { ErrorEquals: string[]; MaxAttempts: number }[]; Parameters?: Record<string, unknown> };
    const asl = (config: object): State | undefined =>
      (synthesizeDefinitions(config).join as unknown as { States: Record<string, State> }).States['Wait for SSM Online'];
    const attempts = (config: object): number => asl(config)?.Retry?.find((r) => r.ErrorEquals.includes('SsmAgentNotOnline'))?.MaxAttempts ?? 0;
    const linuxOnly = attempts({ timings: { ssmOnlineDeadlineSeconds: 600 } });
    const withWindows = attempts({ timings: { ssmOnlineDeadlineSeconds: 600 }, windows: { enabled: true, ssmOnlineDeadlineSeconds: 1800 } });
    const windowsShorter = attempts({ timings: { ssmOnlineDeadlineSeconds: 600 }, windows: { enabled: true, ssmOnlineDeadlineSeconds: 300 } });
    // ~one invocation per minute of waiting (InLambdaWait): 1800 s needs about three times 600 s's.
    expect(withWindows).toBeGreaterThanOrEqual(2.5 * linuxOnly);
    expect(windowsShorter).toBe(linuxOnly);
    // The task gets the round and the execution (where the round's wait start is kept).
    expect(asl({ windows: { enabled: true } })?.Parameters).toMatchObject({ 'redriveCount.$': '$$.Execution.RedriveCount', 'executionName.$': '$$.Execution.Name' });
  });

  it('cdk-nag: no unacknowledged finding in either stack', () => {
    for (const stack of [built.orchestrator, ...built.members]) expect(nagFindings(stack)).toEqual([]);
  });
});

describe('Windows not enabled (the default)', () => {
  it('no Windows document, and no role may send it', () => {
    const b = build(sampleConfig((c) => { c.memberAccounts = ['222222222222']; }));
    for (const t of [b.template, Template.fromStack(b.members[0]!)]) {
      const resources = resourcesOf(t);
      expect(windowsDocument(resources)).toBeUndefined();
      for (const [id] of ofType(resources, 'AWS::IAM::Role')) expect(JSON.stringify(sends(roleStatements(resources, id)))).not.toContain('join-windows');
    }
  });
});

describe('windows configuration', () => {
  it('takes its settings, and refuses bad ones naming each key', () => {
    expect(enabled({ commandDeadlineSeconds: 2400, ssmOnlineDeadlineSeconds: 2000, remoteDesktopGroup: 'Bureau a distance', adminGroups: ['win admins', ' ops '] }).windows).toEqual({
      enabled: true, commandDeadlineSeconds: 2400, ssmOnlineDeadlineSeconds: 2000, remoteDesktopGroup: 'Bureau a distance', administratorsGroup: 'Administrators', adminGroups: ['win admins', 'ops'],
    });
    let error: unknown;
    try {
      enabled({ commandDeadlineSeconds: 60, ssmOnlineDeadlineSeconds: 10, remoteDesktopGroup: 'RDP;evil', adminGroups: ['a$b'], enabled: 'yes', reboot: 1 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems.join('\n');
    for (const key of ['windows.commandDeadlineSeconds', 'windows.ssmOnlineDeadlineSeconds', 'windows.remoteDesktopGroup', 'windows.adminGroups', 'windows.enabled', 'windows.reboot']) expect(problems).toContain(key);
  });
});
