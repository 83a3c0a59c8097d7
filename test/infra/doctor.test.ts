/**
 * The check-setup function (`adjoin doctor`): deployed like every task (in the VPC, with the
 * task security groups, its own role), and allowed only reads — the probe computer object is
 * created and deleted over LDAP with the service account, never through IAM.
 */
import { build, sampleConfig, type Built } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Effect: string; Condition?: Record<string, unknown> };

let built: Built;
let resources: Record<string, Resource>;

beforeAll(() => {
  built = build(sampleConfig((c) => { c.memberAccounts = ['222222222222']; })); // one member account: the AssumeRole check
  resources = built.template.toJSON().Resources as Record<string, Resource>;
});

const ofType = (type: string): [string, Resource][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

function checkSetup(): { fn: Resource; statements: Statement[] } {
  const [, fn] = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === 'adjoin-check-setup') ?? [];
  if (!fn) throw new Error('no adjoin-check-setup function');
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const statements = ofType('AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return { fn, statements };
}

describe('check-setup (adjoin doctor)', () => {
  it('exists with its fixed name, in the VPC with the task security groups, with a timeout above the doctor\u2019s 25 s', () => {
    const { fn } = checkSetup();
    const vpc = fn.Properties.VpcConfig as { SecurityGroupIds: string[]; SubnetIds: string[] };
    const config = sampleConfig();
    expect(vpc.SecurityGroupIds).toEqual(config.network.securityGroupIds);
    expect(vpc.SubnetIds).toEqual(config.network.subnetIds);
    expect(fn.Properties.Timeout as number).toBeGreaterThan(25);
  });

  it('may only read: no write, tag, command, parameter or IAM action; exactly the reads the checks make', () => {
    const actions = [...new Set(checkSetup().statements.flatMap(actionsOf))].sort();
    expect(actions).toEqual([
      'dynamodb:GetItem', // the claims-table probe read
      'dynamodb:Query', // the probe of the SSM Online board's index (on the index only: the stack test)
      'ec2:AssignPrivateIpAddresses', // the VPC network interfaces every task has
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeInstances',
      'ec2:DescribeNetworkInterfaces',
      'ec2:UnassignPrivateIpAddresses',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue', // the bind credentials (it binds like the tasks)
      'ssm:DescribeDocument',
      'ssm:DescribeInstanceInformation',
      'ssm:GetParameter', // the CA bundle
      'sts:AssumeRole', // member roles
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('DescribeDocument only on our two documents, DescribeSecret only on the bind secret, AssumeRole only on the member role, GetItem only on the claims table', () => {
    const { statements } = checkSetup();
    const of = (action: string) => statements.filter((s) => actionsOf(s).includes(action));
    expect(JSON.stringify(of('ssm:DescribeDocument').map((s) => s.Resource))).toMatch(/document\/adjoin-join".*document\/adjoin-verify"/);
    expect(of('secretsmanager:DescribeSecret').map((s) => s.Resource)).toEqual([sampleConfig().directory.serviceAccountSecret]);
    expect(JSON.stringify(of('sts:AssumeRole').map((s) => s.Resource))).toContain(':iam::222222222222:role/adjoin-member-check-setup'); // its own member role, like every task's
    expect(JSON.stringify(of('ssm:GetParameter').map((s) => s.Resource))).toContain('parameter/adjoin/ca-bundle');
    // GetItem only on the join-claims table (the table's ARN, by reference).
    const table = ofType('AWS::DynamoDB::GlobalTable')[0]?.[0];
    expect(of('dynamodb:GetItem').map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [table, 'Arn'] }]);
  });
});
