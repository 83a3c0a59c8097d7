import { DescribeDirectoriesCommand, DirectoryServiceClient, EntityDoesNotExistException } from '@aws-sdk/client-directory-service';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { activeDirectory, DIRECTORY_ID } from '../ds-fixtures';
import { resolveConfig } from '../../infra/config';
import { SdkDirectoryService } from '../../tasks/adapters/ds-directory-service';
import { ConfigurationError } from '../../tasks/lib/errors';
import type { Targets } from '../../cli/program';
import { realTargets } from '../../cli/targets';
import { sampleInput, InfraDir } from '../infra/helpers';
import { awsTargets, cli, fakeIo } from './helpers';

const ds = mockClient(DirectoryServiceClient);
beforeEach(() => ds.reset());

const ID = DIRECTORY_ID;
const active = activeDirectory;

/** The AWS targets of the tests, with the real Directory Service adapter (its client mocked). */
const targets = (): Targets => ({
  ...awsTargets(),
  directoryService: () => new SdkDirectoryService(new DirectoryServiceClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 }), 'eu-west-1'),
});

describe('adjoin directory-info', () => {
  it('prints the directory block to pin: domain, NetBIOS name, DC IPs; stderr says what to fill in', async () => {
    // Prepare
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    // Act
    const { code, io } = await cli(['directory-info', '--directory-id', ID, '--region', 'eu-west-1'], targets());
    // Assess
    expect(code).toBe(0);
    expect(ds).toHaveReceivedCommandWith(DescribeDirectoriesCommand, { DirectoryIds: [ID] });
    const block = JSON.parse(io.outText) as { directory: Record<string, unknown> };
    expect(block).toEqual({
      directory: {
        kind: 'aws-managed',
        directoryId: ID,
        domain: 'corp.example.com',
        netbiosName: 'CORP',
        domainControllers: [
          { hostName: '<name on the LDAPS certificate of 10.0.1.10>', ip: '10.0.1.10' },
          { hostName: '<name on the LDAPS certificate of 10.0.2.10>', ip: '10.0.2.10' },
        ],
      },
    });
    expect(io.errText).toMatch(/Get-ADDomainController -Filter \* \| Select HostName,IPv4Address/);
    expect(io.errText).toMatch(/leave "domainControllers" out and set "directoryId" and "tlsServerName"/);
  });

  it('the printed block, merged as is, is refused at synth naming each placeholder; with the names filled in it is accepted', async () => {
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    const { io } = await cli(['directory-info', '--directory-id', ID], targets());
    const block = JSON.parse(io.outText) as { directory: Record<string, unknown> & { domainControllers: { hostName: string; ip: string }[] } };
    const merged = () => {
      const input = sampleInput();
      Object.assign(input.directory, block.directory);
      return input;
    };
    let err: unknown;
    try {
      resolveConfig(merged(), { baseDir: InfraDir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as ConfigurationError).problems).toEqual([
      'directory.domainControllers[0].hostName: must be a DNS host name',
      'directory.domainControllers[1].hostName: must be a DNS host name',
    ]);
    block.directory.domainControllers = block.directory.domainControllers.map((dc, i) => ({ ...dc, hostName: `dc${i + 1}.corp.example.com` }));
    expect(resolveConfig(merged(), { baseDir: InfraDir }).directory.domainControllers.map((dc) => dc.ip)).toEqual(['10.0.1.10', '10.0.2.10']);
  });

  it.each<[string, number, () => void, RegExp]>([
    ['unknown', 3, () => ds.on(DescribeDirectoriesCommand).rejects(new EntityDoesNotExistException({ message: 'no such directory', $metadata: {} })), /Directory Service does not know d-1234567890/],
    ['not Active', 1, () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Stage: 'Impaired' }] }), /is Impaired, not Active/],
    ['not MicrosoftAD', 1, () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Type: 'SimpleAD' }] }), /is of type SimpleAD, not MicrosoftAD/],
  ])('a directory that is %s: no block, the reason, exit %i', async (_, exit, prepare, reason) => {
    prepare();
    const { code, io } = await cli(['directory-info', '--directory-id', ID], targets());
    expect(code).toBe(exit);
    expect(io.outText).toBe('');
    expect(io.errText).toMatch(reason);
  });

  it('a malformed ID is a usage error, without a call; --directory-id is required', async () => {
    expect((await cli(['directory-info', '--directory-id', 'd-123'], targets())).code).toBe(2);
    expect((await cli(['directory-info'], targets())).code).toBe(2);
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 0);
  });

  it('the real targets read Directory Service in the --region given', async () => {
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    const io = fakeIo({ env: {} });
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret' });
    try {
      const { code } = await cli(['directory-info', '--directory-id', ID, '--region', 'ap-southeast-2'], realTargets(io), io);
      expect(code).toBe(0);
      expect(await (ds.call(0).thisValue as DirectoryServiceClient).config.region()).toBe('ap-southeast-2');
    } finally {
      process.env = saved;
    }
  });
});
