/** AWS Directory Service answers shared by the directoryId tests (the task look-up and `adjoin directory-info`). */
import type { DirectoryDescription } from '@aws-sdk/client-directory-service';

export const DIRECTORY_ID = 'd-1234567890';

/** An Active AWS Managed Microsoft AD, corp.example.com (CORP), two DCs. */
export const activeDirectory: DirectoryDescription = {
  DirectoryId: DIRECTORY_ID,
  Name: 'corp.example.com',
  ShortName: 'CORP',
  Type: 'MicrosoftAD',
  Stage: 'Active',
  DnsIpAddrs: ['10.0.1.10', '10.0.2.10'],
  VpcSettings: { VpcId: 'vpc-0a1b2c3d4e5f60718', SubnetIds: [] },
};
