/**
 * `adjoin doctor` against a deployment: finds the check-setup function (`<prefix>-check-setup`,
 * GetFunctionConfiguration: it exists, and its security groups go into the fix texts), invokes
 * it (lambda:InvokeFunction) with the request, and returns its report. The checks themselves run
 * inside the VPC, in the Lambda; the CLI asks, adds the checks of the deployment itself (the
 * join-cleanup state machine and its rule: cli/doctor-deployment.ts) and prints.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { DoctorInput, DoctorReport } from '../tasks/lib/doctor';
import type { DoctorRequest, DoctorSource } from './doctor';
import { deploymentChecks, placeOfFunction, type DeploymentClients, type DeploymentPlace } from './doctor-deployment';
import { failed, notFound } from './exit';

export interface AwsDoctorClients extends DeploymentClients {
  lambda: LambdaClient;
  sts: STSClient;
}

export function awsDoctorClients(region: string | undefined, profile: string | undefined): AwsDoctorClients {
  const common = { region, profile, maxAttempts: 3 };
  return { lambda: new LambdaClient(common), sts: new STSClient(common), sfn: new SFNClient(common), cloudFormation: new CloudFormationClient(common) };
}

export function awsDoctorSource(clients?: AwsDoctorClients): DoctorSource {
  return async (request: DoctorRequest): Promise<DoctorReport> => {
    const all = clients ?? awsDoctorClients(request.region, request.profile);
    const { lambda, sts } = all;
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: request.functionName })).catch((err: unknown) => {
      if ((err as { name?: string }).name === 'ResourceNotFoundException')
        throw notFound(`No check-setup function ${request.functionName}.`, 'Deploy the stack (it creates <prefix>-check-setup), or pass --prefix / --function.');
      throw err;
    });
    const input: DoctorInput = {
      ...(config.VpcConfig?.SecurityGroupIds?.length ? { securityGroupIds: config.VpcConfig.SecurityGroupIds } : {}),
      ...(request.targets.length > 0 ? { targets: request.targets } : {}),
    };
    if (request.instance) {
      const account = request.instance.account ?? (await sts.send(new GetCallerIdentityCommand({}))).Account ?? '';
      const region = request.instance.region ?? (await lambda.config.region());
      input.instance = { instanceId: request.instance.instanceId, account, region };
    }
    const out = await lambda.send(new InvokeCommand({ FunctionName: request.functionName, Payload: Buffer.from(JSON.stringify(input)) }));
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (out.FunctionError) {
      const e = (body ?? {}) as { errorType?: string; errorMessage?: string };
      throw failed(`${request.functionName} failed: ${e.errorType ?? out.FunctionError}: ${e.errorMessage ?? text.slice(0, 300)}`, 'See its log group /aws/lambda/' + request.functionName + '.');
    }
    const report = body as DoctorReport | undefined;
    if (!report || !Array.isArray(report.checks)) throw failed(`${request.functionName} returned no report.`);
    const place: DeploymentPlace = {
      ...(placeOfFunction(config.FunctionArn) ?? {
        partition: 'aws',
        region: await lambda.config.region(),
        account: (await sts.send(new GetCallerIdentityCommand({}))).Account ?? '',
      }),
      prefix: request.prefix,
    };
    const checks = [...report.checks, ...(await deploymentChecks(place, all))];
    return { ok: checks.every((c) => c.ok), checks };
  };
}
