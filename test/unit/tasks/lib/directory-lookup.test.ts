import { DescribeDirectoriesCommand, DirectoryServiceClient, EntityDoesNotExistException } from '@aws-sdk/client-directory-service';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { activeDirectory, DIRECTORY_ID } from '../../../ds-fixtures';
import { SdkDirectoryService } from '../../../../tasks/adapters/ds-directory-service';
import { loadDefaultSettings } from '../../../../tasks/adapters/default-deps';
import { DIRECTORY_LOOKUP_ENV, pinnedDirectoryBlock, settingsNeedLookup, withLookedUpDirectories } from '../../../../tasks/lib/directory-lookup';
import { AwsUnreachable, DirectoryLookupFailed, Throttled } from '../../../../tasks/lib/errors';
import type { Settings } from '../../../../tasks/lib/settings';
import { testSettings } from '../../../fakes';

const ds = mockClient(DirectoryServiceClient);
beforeEach(() => ds.reset());

const ID = DIRECTORY_ID;
const active = activeDirectory;

/** Settings as infra writes them for `directoryId` without domainControllers. */
function byId(change: (d: Settings['directory']) => void = () => undefined): Settings {
  const s = testSettings();
  s.directory = { ...s.directory, directoryId: ID, dcIps: [], ldapUrls: [], tlsServerName: 'corp.example.com' };
  change(s.directory);
  return s;
}

const service = () => new SdkDirectoryService(new DirectoryServiceClient({ region: 'eu-west-1' }), 'eu-west-1');

describe('directoryId: the DCs from Directory Service at cold start', () => {
  it('fills dcIps and ldaps://<ip>:636 from DescribeDirectories, verified against tlsServerName', async () => {
    // Prepare
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    // Act
    const s = await withLookedUpDirectories(byId(), service());
    // Assess
    expect(s.directory).toMatchObject({ dcIps: ['10.0.1.10', '10.0.2.10'], ldapUrls: ['ldaps://10.0.1.10:636', 'ldaps://10.0.2.10:636'], tlsServerName: 'corp.example.com' });
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 1);
    expect(ds).toHaveReceivedCommandWith(DescribeDirectoriesCommand, { DirectoryIds: [ID] });
  });

  it('keeps configured ldapUrls (host names) and takes only the DC IPs', async () => {
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    const s = await withLookedUpDirectories(byId((d) => { d.ldapUrls = ['ldaps://corp.example.com:636']; }), service());
    expect(s.directory.ldapUrls).toEqual(['ldaps://corp.example.com:636']);
    expect(s.directory.dcIps).toEqual(['10.0.1.10', '10.0.2.10']);
  });

  it('pinned DCs are not looked up (no call)', async () => {
    const pinned = testSettings();
    pinned.directory.directoryId = ID;
    expect(settingsNeedLookup(pinned)).toBe(false);
    expect(await withLookedUpDirectories(pinned, service())).toBe(pinned);
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 0);
  });

  it.each<[string, () => void, RegExp]>([
    ['not found (EntityDoesNotExistException)', () => ds.on(DescribeDirectoriesCommand).rejects(new EntityDoesNotExistException({ message: `Directory ${ID} does not exist`, $metadata: {} })), /Directory Service does not know d-1234567890 in this account and Region: check directory\.directoryId/],
    ['not found (empty answer)', () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [] }), /does not know d-1234567890/],
    ['not Active', () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Stage: 'Creating' }] }), /d-1234567890 is Creating, not Active: wait until .*Stage Active/],
    ['not MicrosoftAD', () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Type: 'ADConnector' }] }), /d-1234567890 is of type ADConnector, not MicrosoftAD .*list the domain controllers in directory\.domainControllers/],
    ['another domain', () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Name: 'corp.example.org' }] }), /d-1234567890 is corp\.example\.org, but directory\.domain is corp\.example\.com/],
    ['another NetBIOS name', () => ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, ShortName: 'OTHER' }] }), /NetBIOS name is OTHER, but directory\.netbiosName is CORP/],
  ])('%s: DirectoryLookupFailed naming what was seen and the fix', async (_, prepare, cause) => {
    prepare();
    const err = await withLookedUpDirectories(byId(), service()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryLookupFailed);
    expect((err as DirectoryLookupFailed).name).toBe('DirectoryLookupFailed');
    expect((err as DirectoryLookupFailed).transient).toBe(false);
    expect((err as Error).message).toMatch(cause);
  });

  it('throttling and an unreachable endpoint map to the catalogue (retried), naming ds.<region>', async () => {
    ds.on(DescribeDirectoriesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ClientException', $retryable: { throttling: true } }));
    await expect(withLookedUpDirectories(byId(), service())).rejects.toBeInstanceOf(Throttled);
    ds.reset();
    ds.on(DescribeDirectoriesCommand).rejects(Object.assign(new Error('connect ETIMEDOUT 52.94.1.1:443'), { name: 'TimeoutError' }));
    const err = await withLookedUpDirectories(byId(), service()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsUnreachable);
    expect((err as Error).message).toMatch(/cannot reach ds\.eu-west-1\.amazonaws\.com/);
  });

  it('many directories: each ID is asked once (the default is also the first of directories)', async () => {
    ds.on(DescribeDirectoriesCommand, { DirectoryIds: [ID] }).resolves({ DirectoryDescriptions: [active] });
    ds.on(DescribeDirectoriesCommand, { DirectoryIds: ['d-0000000002'] })
      .resolves({ DirectoryDescriptions: [{ ...active, DirectoryId: 'd-0000000002', Name: 'emea.example.com', ShortName: 'EMEA', DnsIpAddrs: ['10.9.0.5'] }] });
    const s = byId();
    const second = { ...s.directory, directoryId: 'd-0000000002', domain: 'emea.example.com', netbiosName: 'EMEA', baseDn: 'DC=emea,DC=example,DC=com', computerOu: 'OU=adjoin,DC=emea,DC=example,DC=com', managedOus: ['OU=adjoin,DC=emea,DC=example,DC=com'] };
    s.directories = { default: { ...s.directory }, emea: second };
    const out = await withLookedUpDirectories(s, service());
    expect(out.directory.dcIps).toEqual(['10.0.1.10', '10.0.2.10']);
    expect(out.directories?.default?.dcIps).toEqual(['10.0.1.10', '10.0.2.10']);
    expect(out.directories?.emea).toMatchObject({ dcIps: ['10.9.0.5'], ldapUrls: ['ldaps://10.9.0.5:636'] });
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 2);
  });

  it('only a task with ADJOIN_DIRECTORY_LOOKUP=true looks up (infra sets it on the directory tasks)', async () => {
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
    const env = { ADJOIN_SETTINGS: JSON.stringify(byId()), AWS_REGION: 'eu-west-1' };
    expect((await loadDefaultSettings(env, service())).directory.dcIps).toEqual([]);
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 0);
    expect((await loadDefaultSettings({ ...env, [DIRECTORY_LOOKUP_ENV]: 'true' }, service())).directory.dcIps).toEqual(['10.0.1.10', '10.0.2.10']);
    expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 1);
  });

  it('the block to pin: domain, NetBIOS, DC IPs; the certificate host names are placeholders synth refuses', () => {
    const facts = { directoryId: ID, name: 'Corp.Example.com', shortName: 'corp', type: 'MicrosoftAD', stage: 'Active', dnsIpAddrs: ['10.0.1.10'] };
    expect(pinnedDirectoryBlock(facts)).toEqual({
      directory: { kind: 'aws-managed', directoryId: ID, domain: 'corp.example.com', netbiosName: 'CORP', domainControllers: [{ hostName: '<name on the LDAPS certificate of 10.0.1.10>', ip: '10.0.1.10' }] },
    });
  });
});

describe('defaultDeps with directoryId', () => {
  it('looks up once per cold start: a failure is not kept, a success is', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { ADJOIN_SETTINGS: JSON.stringify(byId()), AWS_REGION: 'eu-west-1', [DIRECTORY_LOOKUP_ENV]: 'true' });
    try {
      const { defaultDeps } = await import('../../../../tasks/adapters/default-deps');
      ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ ...active, Stage: 'Impaired' }] });
      await expect(defaultDeps()).rejects.toBeInstanceOf(DirectoryLookupFailed);
      ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [active] });
      const first = await defaultDeps();
      expect(first.settings.directory.dcIps).toEqual(['10.0.1.10', '10.0.2.10']);
      expect(await defaultDeps()).toBe(first);
      expect(ds).toHaveReceivedCommandTimes(DescribeDirectoriesCommand, 2);
    } finally {
      process.env = saved;
    }
  });
});
