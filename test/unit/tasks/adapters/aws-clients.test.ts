/**
 * The SDK client settings every task uses, against real sockets on loopback: a port nobody
 * listens on (connection refused) and a server that accepts and never answers (request
 * timeout). Both must end as AwsUnreachable naming the endpoint, well inside the Lambda timeout.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AwsClientTimeouts, awsClientConfig, endpointOf, worstCaseCallMs } from '../../../../tasks/adapters/aws-clients';
import { AwsFleet } from '../../../../tasks/adapters/aws-fleet';
import { LdapDirectory } from '../../../../tasks/adapters/ldap-directory';
import { AwsUnreachable } from '../../../../tasks/lib/errors';
import { TaskIds } from '../../../../tasks/registry';
import { taskTimeoutSeconds } from '../../../../infra/functions';
import { testSettings } from '../../../fakes';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };
const documents = { join: 'adjoin-join', verify: 'adjoin-verify' };

/** A loopback port with nothing listening: listen, note the port, close. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('AWS client settings', () => {
  it('end every call (all attempts) well before the shortest task Lambda timeout', () => {
    const shortest = Math.min(...TaskIds.map(taskTimeoutSeconds)) * 1000;
    expect(worstCaseCallMs()).toBeLessThan(shortest);
    expect(awsClientConfig('eu-west-1')).toEqual({
      region: 'eu-west-1',
      retryMode: 'adaptive',
      maxAttempts: AwsClientTimeouts.maxAttempts,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 5000, throwOnRequestTimeout: true },
    });
  });

  it('name the regional endpoint of each service', () => {
    expect(endpointOf('EC2 DescribeInstances', 'eu-west-1')).toBe('ec2.eu-west-1.amazonaws.com');
    expect(endpointOf('Secrets Manager GetSecretValue adjoin/bind', 'us-east-2')).toBe('secretsmanager.us-east-2.amazonaws.com');
    expect(endpointOf('STS AssumeRole arn', 'cn-north-1')).toBe('sts.cn-north-1.amazonaws.com.cn');
  });

  it('a refused connection (real socket) is AwsUnreachable from the fleet, naming ec2.<region>', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const client = new EC2Client({ ...awsClientConfig('eu-west-1'), endpoint, credentials });
    const fleet = new AwsFleet({ region: 'eu-west-1', documents, ec2: client, ssm: new SSMClient({ region: 'eu-west-1', credentials }) });
    await expect(fleet.describeInstance('i-0123456789abcdef0')).rejects.toThrow(AwsUnreachable);
    await expect(fleet.tagInstance('i-0123456789abcdef0', { a: 'b' })).rejects.toThrow(/cannot reach ec2\.eu-west-1\.amazonaws\.com \(ECONNREFUSED/);
  });

  it('a server that never answers (real socket) times out into AwsUnreachable, naming ssm.<region>', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = http.createServer(() => undefined); // accepts, never answers
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // The production settings, with a shorter request timeout so the test is quick.
      const ssm = new SSMClient({ ...awsClientConfig('eu-west-1'), maxAttempts: 1, requestHandler: { ...awsClientConfig().requestHandler, requestTimeout: 300 }, endpoint, credentials });
      const settings = { ...testSettings().directory, caParameterName: '/adjoin/ca-bundle' };
      delete settings.caPem; // the CA comes from SSM, which never answers
      const directory = new LdapDirectory(settings, {
        ssm,
        credentials: () => Promise.resolve({ bindDn: 'svc@corp.example.com', password: 'pw' }),
      });
      const started = Date.now();
      const failure = directory.findByName('WEB01');
      await expect(failure).rejects.toThrow(AwsUnreachable);
      await expect(failure).rejects.toThrow(/^SSM GetParameter \/adjoin\/ca-bundle failed: cannot reach ssm\.[a-z0-9-<>]+\.amazonaws\.com \((TimeoutError|ETIMEDOUT): .*requestTimeout/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
