/**
 * The DirectoryService port on the AWS SDK v3: DescribeDirectories for one ID (read-only). An
 * unknown ID (EntityDoesNotExistException, or an empty answer) is `undefined`; every other error
 * maps to our catalogue (aws-errors.ts: Throttled, AwsUnreachable naming ds.<region>.amazonaws.com, …).
 */
import { DescribeDirectoriesCommand, DirectoryServiceClient } from '@aws-sdk/client-directory-service';
import type { DirectoryFacts, DirectoryService } from '../lib/ports';
import { awsClientConfig } from './aws-clients';
import { awsErrorName, mapAwsError } from './aws-errors';
import { traced } from './observability';

export class SdkDirectoryService implements DirectoryService {
  private readonly client: DirectoryServiceClient;

  constructor(
    client?: DirectoryServiceClient,
    private readonly region: string | undefined = process.env.AWS_REGION,
  ) {
    this.client = client ?? traced(new DirectoryServiceClient(awsClientConfig(region)));
  }

  async describe(directoryId: string): Promise<DirectoryFacts | undefined> {
    let out;
    try {
      out = await this.client.send(new DescribeDirectoriesCommand({ DirectoryIds: [directoryId] }));
    } catch (err) {
      if (awsErrorName(err) === 'EntityDoesNotExistException') return undefined;
      throw mapAwsError(err, `Directory Service DescribeDirectories ${directoryId}`, [], this.region ?? (await this.client.config.region()));
    }
    const d = out.DirectoryDescriptions?.find((x) => x.DirectoryId === directoryId);
    if (!d) return undefined;
    return {
      directoryId,
      name: d.Name ?? '',
      ...(d.ShortName ? { shortName: d.ShortName } : {}),
      type: d.Type ?? 'unknown',
      stage: d.Stage ?? 'unknown',
      dnsIpAddrs: d.DnsIpAddrs ?? [],
      ...(d.VpcSettings?.VpcId ? { vpcId: d.VpcSettings.VpcId } : {}),
    };
  }
}
