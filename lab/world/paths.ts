/**
 * Names and places of the lab world. Everything the lab makes is found again from these by
 * naming convention, so a crashed lab can always be cleaned: network namespaces `adjoin-*`,
 * the root-side link `adjoin-host`, namespace files under `<lab dir>/adjoin-ns/`.
 */
import * as path from 'node:path';

/** The lab's state folder: `$ADJOIN_LAB_DIR` or `.lab/` in the repository root. */
export function labDir(): string {
  const fromEnv = process.env.ADJOIN_LAB_DIR;
  return path.resolve(fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(__dirname, '..', '..', '.lab'));
}

export const NETNS_PREFIX = 'adjoin-';
export const DC_NETNS = 'adjoin-dc';
/** Root-namespace end of the link into the lab bridge (its peer sits on the bridge). */
export const HOST_LINK = 'adjoin-host';
export const HOST_LINK_PEER = 'adjv-host';
export const BRIDGE = 'br0';

export const SUBNET = '10.77.0.0/24';
export const PREFIX_LEN = 24;
export const HOST_IP = '10.77.0.1';
export const DC_IP = '10.77.0.2';
/** Instances get 10.77.0.10 .. 10.77.0.250. */
export const FIRST_INSTANCE_HOST = 10;
export const LAST_INSTANCE_HOST = 250;

export const REALM = 'LAB.EXAMPLE.COM';
export const DNS_DOMAIN = 'lab.example.com';
export const NETBIOS = 'LAB';
export const BASE_DN = 'DC=lab,DC=example,DC=com';
export const DC_HOSTNAME = 'dc1';
export const DC_FQDN = 'DC1.lab.example.com';

/**
 * The second domain controller: its own network namespace, plugged into DC1's bridge like an
 * instance (veth `adjvdc2`), joined to the domain as a replica DC.
 */
export const DC2_NETNS = 'adjoin-dc2';
export const DC2_IP = '10.77.0.3';
export const DC2_HOSTNAME = 'dc2';
export const DC2_FQDN = 'DC2.lab.example.com';
export const DC2_VETH = 'adjvdc2';

/** The lab's domain controllers by name (`adjoin lab dc stop dc2`), DC1 first. */
export interface DcSpec {
  name: 'dc1' | 'dc2';
  hostname: string;
  fqdn: string;
  ip: string;
  netns: string;
}
export const DC_SPECS: readonly DcSpec[] = [
  { name: 'dc1', hostname: DC_HOSTNAME, fqdn: DC_FQDN, ip: DC_IP, netns: DC_NETNS },
  { name: 'dc2', hostname: DC2_HOSTNAME, fqdn: DC2_FQDN, ip: DC2_IP, netns: DC2_NETNS },
];
export const MANAGED_OU = `OU=adjoin,${BASE_DN}`;
export const LOGIN_GROUP = 'linux-admins';
export const SERVICE_ACCOUNT = 'svc-adjoin';
export const DNS_ZONE_DN = `DC=${DNS_DOMAIN},CN=MicrosoftDNS,DC=DomainDnsZones,${BASE_DN}`;

/** The lab's pretend AWS account and Region (markers carry them). */
export const LAB_ACCOUNT = '111122223333';
export const LAB_REGION = 'eu-west-1';
/** A second lab Region (`launch({ region: LAB_REGION_2 })`): same DC, its own EC2/SSM view (labFleetFor). */
export const LAB_REGION_2 = 'eu-central-1';
/** The Regions a lab instance may live in, LAB_REGION first. */
export const LAB_REGIONS: readonly string[] = [LAB_REGION, LAB_REGION_2];

export const netnsOf = (instanceId: string): string => `${NETNS_PREFIX}${instanceId}`;

export interface LabPaths {
  root: string;
  stateFile: string;
  lockFile: string;
  nsDir: string;
  secretsDir: string;
  paramsDir: string;
  commandsDir: string;
  dcDir: string;
  dc2Dir: string;
  caFile: string;
  instanceDir: (id: string) => string;
}

export function labPaths(root = labDir()): LabPaths {
  return {
    root,
    stateFile: path.join(root, 'state.json'),
    lockFile: path.join(root, 'state.lock'),
    nsDir: path.join(root, 'adjoin-ns'),
    secretsDir: path.join(root, 'secrets'),
    paramsDir: path.join(root, 'parameters'),
    commandsDir: path.join(root, 'commands'),
    dcDir: path.join(root, 'dc'),
    dc2Dir: path.join(root, 'dc2'),
    caFile: path.join(root, 'ca.pem'),
    instanceDir: (id) => path.join(root, 'instances', id),
  };
}
