/**
 * The SSM Online board's question to SSM (tasks/adapters/aws-fleet.ts `ssmPingStatuses`): ONE
 * DescribeInstanceInformation call for up to 50 instances, and the role-assuming fleet of
 * `fleetFor` handing it on.
 */
import { DescribeInstanceInformationCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AwsFleet, type AwsFleetOptions, fleetFor } from '../../../../tasks/adapters/aws-fleet';
import { AdjoinError } from '../../../../tasks/lib/errors';
import type { Fleet, PingStatus } from '../../../../tasks/lib/ports';
import { aString } from '../../../fakes';
import { MAPPED_ERRORS, serviceError } from './aws-error-cases';

const ssmMock = mockClient(SSMClient);
const stsMock = mockClient(STSClient);
const documents = { join: 'adjoin-join', verify: 'adjoin-verify' };
const ids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `i-${(from + i).toString(16).padStart(17, '0')}`);

const fleet = (): AwsFleet => new AwsFleet({ region: 'eu-west-1', account: '123456789012', documents, ssm: new SSMClient({ region: 'eu-west-1' }) });
const sent = () => ssmMock.commandCalls(DescribeInstanceInformationCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ssmMock.reset();
  stsMock.reset();
});

describe('AwsFleet.ssmPingStatuses', () => {
  it('ONE DescribeInstanceInformation for all the IDs asked: filter InstanceIds, MaxResults 50', async () => {
    // Prepare
    const asked = ids(50);
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    // Act
    await fleet().ssmPingStatuses(asked);
    // Assess
    expect(sent()).toEqual([{ Filters: [{ Key: 'InstanceIds', Values: asked }], MaxResults: 50 }]);
  });

  it('answers only the IDs asked, with a known ping status; agents not listed are absent', async () => {
    // Prepare
    const [a, b, c, d, e] = ids(5);
    ssmMock.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: a, PingStatus: 'Online' },
        { InstanceId: b, PingStatus: 'ConnectionLost' },
        { InstanceId: c, PingStatus: 'Inactive' },
        { InstanceId: d, PingStatus: 'Sleeping' as never }, // not a status we know: as if not listed
        { InstanceId: 'i-0notasked0000000', PingStatus: 'Online' },
        { PingStatus: 'Online' },
        { InstanceId: e },
      ],
    });
    // Act
    const pings = await fleet().ssmPingStatuses([a, b, c, d, e].map(String));
    // Assess
    expect(pings).toEqual(new Map<string, PingStatus>([[String(a), 'Online'], [String(b), 'ConnectionLost'], [String(c), 'Inactive']]));
  });

  it('InvalidInstanceId for a batch (one unknown instance): halves it until the unknown one stands alone, and leaves it out', async () => {
    // Prepare: SSM refuses any batch holding the unknown instance
    const asked = ids(8);
    const unknown = String(asked[5]);
    ssmMock.on(DescribeInstanceInformationCommand).callsFake((input: { Filters: { Values: string[] }[] }) => {
      const values = input.Filters[0]?.Values ?? [];
      if (values.includes(unknown)) throw serviceError(SSMServiceException, 'InvalidInstanceId');
      return { InstanceInformationList: values.map((id) => ({ InstanceId: id, PingStatus: 'Online' })) };
    });
    // Act
    const pings = await fleet().ssmPingStatuses(asked);
    // Assess: every known one answered, the unknown one absent; 8 → 4+4 → 2+2 → 1+1: 7 calls
    expect([...pings.keys()].sort()).toEqual(asked.filter((id) => id !== unknown).sort());
    expect(sent()).toHaveLength(7);
    expect(sent().at(-1)?.Filters?.[0]?.Values?.length).toBe(1);
  });

  it('a short page with a NextToken (SSM may page a filtered answer): the next pages are read, at most 5', async () => {
    // Prepare: two agents per page, always another page
    const asked = ids(20);
    let page = 0;
    ssmMock.on(DescribeInstanceInformationCommand).callsFake(() => {
      const list = asked.slice(page * 2, page * 2 + 2).map((id) => ({ InstanceId: id, PingStatus: 'Online' }));
      page += 1;
      return { InstanceInformationList: list, NextToken: `t${page}` };
    });
    // Act
    const pings = await fleet().ssmPingStatuses(asked);
    // Assess: 5 pages, 10 agents; the token handed on
    expect(sent()).toHaveLength(5);
    expect(sent().map((i) => i.NextToken)).toEqual([undefined, 't1', 't2', 't3', 't4']);
    expect(pings.size).toBe(10);
  });

  it('no IDs: an empty answer and no call', async () => {
    // Act
    const pings = await fleet().ssmPingStatuses([]);
    // Assess
    expect(pings.size).toBe(0);
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 0);
  });

  it('more than 50 IDs: RangeError, and no call', async () => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    // Act / Assess
    await expect(fleet().ssmPingStatuses(ids(51))).rejects.toThrow(RangeError);
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 0);
  });

  it.each(MAPPED_ERRORS)('%s → mapped, naming the call', async (_case, sdkName, status, name, transient) => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).rejects(serviceError(SSMServiceException, sdkName, status));
    // Act / Assess
    await expect(fleet().ssmPingStatuses(ids(3))).rejects.toBeInstanceOf(AdjoinError);
    await expect(fleet().ssmPingStatuses(ids(3))).rejects.toMatchObject({ name, transient, message: aString(/^SSM DescribeInstanceInformation failed/) });
  });
});

describe('fleetFor: the lazily built (role-assuming) fleet hands ssmPingStatuses on', () => {
  const made: AwsFleetOptions[] = [];
  const makeFleet = (o: AwsFleetOptions): AwsFleet => {
    made.push(o);
    return new AwsFleet({ ...o, ssm: new SSMClient({ region: o.region }) });
  };
  beforeEach(() => {
    made.length = 0;
  });

  it('in our own account: the real fleet answers, one call', async () => {
    // Prepare
    const [a, b] = ids(2);
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: a, PingStatus: 'Online' }] });
    const f = fleetFor({ documents, makeFleet, homeAccount: '111111111111' })({ account: '111111111111', region: 'eu-west-1' });
    // Act
    const pings = await f.ssmPingStatuses?.([String(a), String(b)]);
    // Assess
    expect(pings).toEqual(new Map([[String(a), 'Online']]));
    expect(sent()).toEqual([{ Filters: [{ Key: 'InstanceIds', Values: [a, b] }], MaxResults: 50 }]);
    expect(made).toHaveLength(1);
  });

  it('in a member account: through the assumed role', async () => {
    // Prepare
    stsMock.on(GetCallerIdentityCommand).resolves({ Account: '111111111111' });
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'AK', SecretAccessKey: 'SK', SessionToken: 'ST', Expiration: new Date(Date.now() + 3_600_000) },
    });
    const [a] = ids(1);
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: a, PingStatus: 'ConnectionLost' }] });
    const f = fleetFor({ documents, memberRoleName: 'adjoin-member', makeFleet, sts: new STSClient({ region: 'eu-west-1' }) })({ account: '222222222222', region: 'eu-west-1' });
    // Act
    const pings = await f.ssmPingStatuses?.([String(a)]);
    // Assess
    expect(pings).toEqual(new Map([[String(a), 'ConnectionLost']]));
    expect(made.map((o) => [o.account, typeof o.credentials])).toEqual([['222222222222', 'function']]);
  });

  it('the real fleet\'s errors pass through unchanged (RangeError above 50)', async () => {
    // Prepare
    const f = fleetFor({ documents, makeFleet, homeAccount: '111111111111' })({ account: '111111111111', region: 'eu-west-1' });
    // Act / Assess
    await expect(f.ssmPingStatuses?.(ids(51))).rejects.toThrow(RangeError);
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 0);
  });

  it('a real fleet without ssmPingStatuses: the wrapper says so (RangeError), nothing else is called', async () => {
    // Prepare
    const calls: string[] = [];
    const bare = new Proxy({} as Fleet, { get: (_t, p) => (typeof p === 'string' && p !== 'then' && p !== 'ssmPingStatuses' ? () => calls.push(p) : undefined) });
    const f = fleetFor({ documents, makeFleet: () => bare, homeAccount: '111111111111' })({ account: '111111111111', region: 'eu-west-1' });
    // Act / Assess
    await expect(f.ssmPingStatuses?.(ids(1))).rejects.toThrow(/not offered by this fleet/);
    expect(calls).toEqual([]);
  });
});
