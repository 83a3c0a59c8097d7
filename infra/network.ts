/**
 * `network.createEndpoints`: the VPC endpoints the task Lambdas call, so they need no NAT.
 * Exactly the services the adapters (tasks/adapters) use: EC2 (describe, tag), SSM (Run
 * Command, instance information, the one-time password and CA parameters), STS (caller
 * identity, member roles), Secrets Manager (the bind secret), Step Functions (`states`:
 * GetExecutionHistory, Clean up failed join) as interface endpoints, and DynamoDB (the
 * join-claims table: Read instance, Prepare, Run join document, Record result, the cleanup,
 * Find computer objects) as a gateway endpoint on `network.routeTableIds` (a gateway endpoint
 * routes the whole table's DynamoDB traffic: its policy is left open so other workloads on
 * those route tables keep working; the task roles limit what adjoin may do). KMS is not called by the tasks
 * (SSM and Secrets Manager decrypt on the service side); Lambda's logs and traces do not leave
 * through the VPC. Private DNS is on, so the SDK's default endpoint names resolve to them; their
 * own security group admits 443 from the task security groups only.
 *
 * Interface endpoints take one subnet per Availability Zone: with createEndpoints,
 * network.subnetIds must be in different zones (CloudFormation refuses otherwise).
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** The interface endpoint service names (com.amazonaws.<region>.<name>) the tasks call. */
export const TaskEndpointServices = ['ec2', 'ssm', 'sts', 'secretsmanager', 'states'] as const;
/**
 * Called only when a feature is on: `ds` (Directory Service) for a directory whose DCs are read
 * from its directoryId at cold start; `autoscaling` for lifecycle hooks (CompleteLifecycleAction,
 * heartbeats, DescribeAutoScalingInstances).
 */
export type OptionalEndpointService = 'ds' | 'autoscaling';
/** The gateway endpoint service the tasks call (the join-claims table). */
export const TaskGatewayServices = ['dynamodb'] as const;

export interface TaskEndpointsProps {
  vpc: ec2.IVpc;
  subnets: ec2.ISubnet[];
  /** The task Lambdas' security groups: the only sources allowed in on 443. */
  taskSecurityGroups: ec2.ISecurityGroup[];
  /** The subnets' route tables (the gateway endpoints add their routes there). */
  routeTableIds: string[];
  /** The optional services the configuration calls (see OptionalEndpointService). */
  optional?: OptionalEndpointService[];
}

export class TaskEndpoints extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly endpoints: ec2.InterfaceVpcEndpoint[];
  readonly gateways: ec2.CfnVPCEndpoint[];

  constructor(scope: Construct, id: string, props: TaskEndpointsProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'adjoin: interface endpoints of the task Lambdas (443 from their security groups only)',
      allowAllOutbound: false,
    });
    for (const [i, sg] of props.taskSecurityGroups.entries())
      this.securityGroup.addIngressRule(ec2.Peer.securityGroupId(sg.securityGroupId), ec2.Port.tcp(443), `HTTPS from adjoin task security group ${i + 1}`);
    this.endpoints = [...TaskEndpointServices, ...(props.optional ?? [])].map((service) => new ec2.InterfaceVpcEndpoint(this, service, {
      vpc: props.vpc,
      service: new ec2.InterfaceVpcEndpointAwsService(service),
      subnets: { subnets: props.subnets },
      securityGroups: [this.securityGroup],
      privateDnsEnabled: true,
      open: false, // no rule for the whole VPC CIDR: only the task security groups above
    }));
    // Imported subnets carry no route table: the gateway takes the configured route tables by ID.
    this.gateways = TaskGatewayServices.map((service) => new ec2.CfnVPCEndpoint(this, service, {
      vpcId: props.vpc.vpcId,
      serviceName: `com.amazonaws.${Stack.of(this).region}.${service}`,
      vpcEndpointType: 'Gateway',
      routeTableIds: props.routeTableIds,
    }));
  }
}
