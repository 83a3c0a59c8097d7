/**
 * An Active Directory in memory, implementing the Directory port the way the LDAP adapter
 * behaves against AD (and not the way Samba is lax): names over 15 characters are refused, a
 * name already in use is ComputerNameConflict, creation outside a managed OU is refused, paged
 * listing never returns more than the page size. Failure injection: down for N calls, a chosen
 * operation failing N times, a name held by a foreign object, small pages.
 *
 * Every object gets an objectGUID (a counter, canonical form) and an owner: "us" (the service
 * account, which the adapter reports as createdByUs) for what createComputer makes and, unless
 * told otherwise, for what a test adds; "someone-else" for foreign objects (holdName).
 *
 * One-time passwords are kept only to let SimFleet's agent check a join; they are never listed,
 * logged or returned by the port.
 */
import type { Clock, ComputerObject, Directory, Marker, NewComputer } from '../../tasks/lib/ports';
import { ComputerNameConflict, DirectoryRefused, DirectoryUnavailable } from '../../tasks/lib/errors';
import { isInside } from '../../tasks/lib/dn';
import { formatMarker, parseMarker } from '../../tasks/lib/marker';

export type DirectoryOp = 'findByMarker' | 'findByName' | 'createComputer' | 'resetPassword' | 'deleteComputer' | 'deleteDnsRecords' | 'listManaged';

export interface SimComputer {
  dn: string;
  name: string;
  /** The stored marker text (msDS-cloudExtensionAttribute1), parsed or not. */
  markerText?: string;
  description?: string;
  dnsHostName?: string;
  whenCreated: Date;
  guid: string;
  /** Who created (owns) it: the service account ("us") or anyone else. */
  owner: 'us' | 'someone-else';
}

/** The service account's SID and another principal's, as the sim reports owners. */
export const SIM_SERVICE_SID = 'S-1-5-21-1000-2000-3000-1105';
export const SIM_OTHER_SID = 'S-1-5-21-1000-2000-3000-500';

export interface SimDirectoryOptions {
  clock: Clock;
  /** The OUs leave/reconcile may touch, and where objects may be created. */
  managedOus: string[];
  /** The domain's base DN (foreign objects go to CN=Computers under it). */
  baseDn?: string;
  /** Server-side page limit (AD's MaxPageSize is 1000). */
  maxPageSize?: number;
  /** Milliseconds each operation takes in the directory (a timer: virtual under lab/sim/timers). */
  latencyMs?: (op: DirectoryOp) => number;
  /** At most this many operations in the directory at once; the others queue (default unlimited). */
  capacity?: number;
}

interface Injection {
  op: DirectoryOp | '*';
  remaining: number;
  error: () => Error;
}

const lower = (s: string): string => s.toLowerCase();
const inside = (dn: string, ou: string): boolean => lower(dn).endsWith(`,${lower(ou)}`);

export class SimDirectory implements Directory {
  private readonly objects = new Map<string, SimComputer>();
  private readonly passwords = new Map<string, string>();
  private readonly dns = new Map<string, number>();
  private readonly injections: Injection[] = [];
  private guids = 0;
  /** Every call, in order (arguments without passwords). */
  readonly calls: { op: DirectoryOp; arg: string }[] = [];
  private readonly clock: Clock;
  readonly managedOus: string[];
  maxPageSize: number;
  readonly baseDn: string;
  private readonly latencyMs: ((op: DirectoryOp) => number) | undefined;
  private readonly capacity: number;
  private readonly queue: (() => void)[] = [];
  /** Operations being served now, and the most there ever were (and waiting, at most). */
  readonly load = { inService: 0, peakInService: 0, peakQueued: 0 };

  constructor(options: SimDirectoryOptions) {
    this.latencyMs = options.latencyMs;
    this.capacity = options.capacity ?? Infinity;
    this.clock = options.clock;
    this.baseDn = options.baseDn ?? 'DC=lab,DC=example,DC=com';
    this.managedOus = options.managedOus;
    this.maxPageSize = options.maxPageSize ?? 1000;
  }

  // ---- test controls ----------------------------------------------------------------------

  /** The next `calls` calls (any operation) fail with DirectoryUnavailable, then it is back. */
  down(calls: number): this {
    return this.fail('*', calls, () => new DirectoryUnavailable('Directory did not answer (simulated outage): connect ECONNREFUSED'));
  }

  /** The next `times` calls of `op` fail with `error` (default DirectoryUnavailable). */
  fail(op: DirectoryOp | '*', times: number, error: () => Error = () => new DirectoryUnavailable(`Directory did not answer ${op} (simulated)`)): this {
    this.injections.push({ op, remaining: times, error });
    return this;
  }

  /** Puts an object in the directory directly (foreign objects, old objects, broken markers). */
  add(spec: {
    name: string;
    ou: string;
    marker?: Marker;
    markerText?: string;
    description?: string;
    whenCreated?: Date;
    dnsHostName?: string;
    owner?: SimComputer['owner'];
    guid?: string;
  }): SimComputer {
    const dn = `CN=${spec.name},${spec.ou}`;
    const obj: SimComputer = {
      dn,
      name: spec.name,
      whenCreated: spec.whenCreated ?? this.clock.now(),
      guid: spec.guid ?? this.nextGuid(),
      owner: spec.owner ?? 'us',
      ...(spec.marker ? { markerText: formatMarker(spec.marker) } : spec.markerText !== undefined ? { markerText: spec.markerText } : {}),
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.dnsHostName !== undefined ? { dnsHostName: spec.dnsHostName } : {}),
    };
    this.objects.set(lower(dn), obj);
    return { ...obj };
  }

  /** A computer that is not ours holding `name` (no marker), e.g. in CN=Computers. */
  holdName(name: string, ou?: string): SimComputer {
    return this.add({ name, ou: ou ?? `CN=Computers,${this.baseDn}`, description: 'made by hand', owner: 'someone-else' });
  }

  /** Rewrites an object's dNSHostName (anyone with write access to it could). */
  setDnsHostName(dn: string, dnsHostName: string): void {
    const o = this.objects.get(lower(dn));
    if (o) o.dnsHostName = dnsHostName;
  }

  private nextGuid(): string {
    this.guids += 1;
    return `5a000000-0000-4000-8000-${this.guids.toString(16).padStart(12, '0')}`;
  }

  /** Adds an A record for a host (as SSSD's dyndns would). */
  addDnsRecord(hostname: string, count = 1): void {
    this.dns.set(lower(hostname), (this.dns.get(lower(hostname)) ?? 0) + count);
  }

  dnsRecordCount(hostname: string): number {
    return this.dns.get(lower(hostname)) ?? 0;
  }

  /** Every object (copies), sorted by DN. */
  all(): SimComputer[] {
    return [...this.objects.values()].map((o) => ({ ...o })).sort((a, b) => a.dn.localeCompare(b.dn));
  }

  get(dn: string): SimComputer | undefined {
    const o = this.objects.get(lower(dn));
    return o ? { ...o } : undefined;
  }

  byName(name: string): SimComputer | undefined {
    const o = [...this.objects.values()].find((x) => lower(x.name) === lower(name));
    return o ? { ...o } : undefined;
  }

  /** For SimFleet's agent: does this password open this computer account? */
  passwordMatches(name: string, password: string): boolean {
    const o = this.byName(name);
    return o !== undefined && this.passwords.get(lower(o.dn)) === password;
  }

  /**
   * For SimFleet's agent: adcli rotates the machine password on join (the OTP is dead after).
   * Returns the new password (the simulated Windows machine keeps it as its own), undefined when
   * there is no such object.
   */
  rotatePassword(name: string): string | undefined {
    const o = this.byName(name);
    if (!o) return undefined;
    const password = `rotated-${Math.random()}`;
    this.passwords.set(lower(o.dn), password);
    return password;
  }

  // ---- the port ---------------------------------------------------------------------------

  async findByMarker(marker: Marker): Promise<ComputerObject[]> {
    await this.enter('findByMarker', `${marker.account}:${marker.region}:${marker.instanceId}`);
    const text = formatMarker(marker);
    return [...this.objects.values()]
      .filter((o) => o.markerText === text && this.managedOus.some((ou) => inside(o.dn, ou)))
      .map(toPort);
  }

  async findByName(name: string): Promise<ComputerObject | undefined> {
    await this.enter('findByName', name);
    const o = [...this.objects.values()].find((x) => lower(x.name) === lower(name));
    return o ? toPort(o) : undefined;
  }

  async createComputer(spec: NewComputer): Promise<ComputerObject> {
    await this.enter('createComputer', spec.name);
    if (spec.name.length > 15 || !/^[A-Za-z0-9-]+$/.test(spec.name))
      throw new DirectoryRefused(`Computer name ${JSON.stringify(spec.name)} is not a valid NetBIOS name (1-15 letters, digits, hyphens)`);
    // The delegation is container-inherit (CI): OUs inside a managed OU are allowed too.
    if (!this.managedOus.some((ou) => lower(ou) === lower(spec.ou) || isInside(spec.ou, ou)))
      throw new DirectoryRefused(`Insufficient access rights to create a computer in ${spec.ou}`);
    if ([...this.objects.values()].some((o) => lower(o.name) === lower(spec.name)))
      throw new ComputerNameConflict(`samAccountName ${spec.name}$ is already in use`);
    const dn = `CN=${spec.name},${spec.ou}`;
    const obj: SimComputer = {
      dn,
      name: spec.name,
      markerText: formatMarker(spec.marker),
      description: spec.description,
      dnsHostName: spec.fqdn,
      whenCreated: this.clock.now(),
      guid: this.nextGuid(),
      owner: 'us',
    };
    this.objects.set(lower(dn), obj);
    this.passwords.set(lower(dn), spec.password);
    return toPort(obj);
  }

  async resetPassword(dn: string, password: string): Promise<void> {
    await this.enter('resetPassword', dn);
    if (!this.objects.has(lower(dn))) throw new DirectoryRefused(`No such object: ${dn}`);
    this.passwords.set(lower(dn), password);
  }

  async deleteComputer(dn: string): Promise<void> {
    await this.enter('deleteComputer', dn);
    this.objects.delete(lower(dn));
    this.passwords.delete(lower(dn));
  }

  async deleteDnsRecords(hostname: string): Promise<number> {
    await this.enter('deleteDnsRecords', hostname);
    const n = this.dns.get(lower(hostname)) ?? 0;
    this.dns.delete(lower(hostname));
    return n;
  }

  async *listManaged(): AsyncIterable<ComputerObject[]> {
    await this.enter('listManaged', '');
    const all = [...this.objects.values()]
      .filter((o) => o.markerText !== undefined && this.managedOus.some((ou) => inside(o.dn, ou)))
      .sort((a, b) => a.dn.localeCompare(b.dn));
    for (let i = 0; i < all.length; i += this.maxPageSize) {
      if (i > 0) await this.enter('listManaged', `page ${i / this.maxPageSize}`);
      yield all.slice(i, i + this.maxPageSize).map(toPort);
    }
  }

  private async enter(op: DirectoryOp, arg: string): Promise<void> {
    this.calls.push({ op, arg });
    await Promise.resolve();
    const latency = this.latencyMs?.(op) ?? 0;
    if (latency > 0 || this.capacity !== Infinity) await this.serve(latency);
    const inj = this.injections.find((i) => i.remaining > 0 && (i.op === '*' || i.op === op));
    if (inj) {
      inj.remaining -= 1;
      throw inj.error();
    }
  }

  /** Waits for a free slot (capacity), holds it `latency` ms, frees it for the next in line. */
  private async serve(latency: number): Promise<void> {
    if (this.load.inService >= this.capacity) {
      await new Promise<void>((resolve) => {
        this.queue.push(resolve);
        this.load.peakQueued = Math.max(this.load.peakQueued, this.queue.length);
      });
    } else this.load.inService += 1;
    this.load.peakInService = Math.max(this.load.peakInService, this.load.inService);
    try {
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the slot passes to the next in line
      else this.load.inService -= 1;
    }
  }
}

function toPort(o: SimComputer): ComputerObject {
  const marker = parseMarker(o.markerText);
  return {
    dn: o.dn,
    name: o.name,
    whenCreated: new Date(o.whenCreated),
    guid: o.guid,
    ownerSid: o.owner === 'us' ? SIM_SERVICE_SID : SIM_OTHER_SID,
    createdByUs: o.owner === 'us',
    ...(marker ? { marker } : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.dnsHostName !== undefined ? { dnsHostName: o.dnsHostName } : {}),
  };
}
