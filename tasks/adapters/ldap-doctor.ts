/**
 * The doctor's LDAPS operations (DirectoryProbe): bind to one DC, add and delete a marker-less
 * probe computer, and read the DNS zone's DACL with the bound account's SIDs. Connection options
 * and credentials are the LDAP adapter's own (LdapDirectory.clientOptions / loadCredentials), so
 * the doctor checks exactly what the tasks use; every ldapts error is mapped by mapLdapError.
 *
 * Why the DACL and not a probe record: the service account needs delete-child (DC) for dnsNode
 * on the zone, and usually has no create-child there, so a create+delete probe would fail on a
 * correctly delegated directory; allowedChildClassesEffective reports create rights only, and
 * sDRightsEffective only rights on the descriptor itself. The zone's nTSecurityDescriptor (DACL
 * part, SD flags control) is readable by authenticated users on AD and on Samba.
 */
import { Attribute, Client, type ClientOptions, Control, type Entry, EqualityFilter, NoSuchObjectError, OrFilter } from 'ldapts';
import type { DirectoryProbe, ZoneAccess } from '../lib/doctor';
import { PROBE_DESCRIPTION, sidToString } from '../lib/doctor';
import { DirectoryUnavailable } from '../lib/errors';
import { computerDn, dnsZoneDns, type LdapDirectory, mapLdapError, TREE_DELETE_OID } from './ldap-directory';

/** LDAP_SERVER_SD_FLAGS_OID with DACL_SECURITY_INFORMATION (4): lets a non-owner read the DACL. */
class SdFlagsControl extends Control {
  constructor() {
    super('1.2.840.113556.1.4.801', { critical: false });
  }
  protected override writeControl(writer: { writeBuffer(buffer: Buffer, tag: number): void }): void {
    writer.writeBuffer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x04]), 4);
  }
}

/** userAccountControl of the probe: workstation trust account, disabled (it never has a password). */
const PROBE_UAC = 4096 | 2;

const buffers = (entry: Entry, name: string): Buffer[] => {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x)));
};

export interface LdapDoctorOptions {
  /** Builds the ldapts client (the lab guards its addresses here). */
  createClient?: (options: ClientOptions) => Client;
  /** Per-operation timeout (default 4 s). */
  timeoutMs?: number;
}

export class LdapDoctor implements DirectoryProbe {
  constructor(
    private readonly directory: LdapDirectory,
    private readonly config: { domain: string; baseDn: string; ldapUrls: string[] },
    private readonly options: LdapDoctorOptions = {},
  ) {}

  async account(): Promise<string> {
    return (await this.directory.loadCredentials()).bindDn;
  }

  private async bound(url: string): Promise<Client> {
    const creds = await this.directory.loadCredentials();
    const timeout = this.options.timeoutMs ?? 4_000;
    const opts = { ...(await this.directory.clientOptions(url)), timeout, connectTimeout: timeout };
    const client = (this.options.createClient ?? ((o: ClientOptions) => new Client(o)))(opts);
    try {
      await client.bind(creds.bindDn, creds.password);
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw mapLdapError(err, `bind to ${url}`);
    }
  }

  /** A bound client to the first DC that answers. */
  private async any(): Promise<Client> {
    const failures: string[] = [];
    for (const url of this.config.ldapUrls) {
      try {
        return await this.bound(url);
      } catch (err) {
        if (!(err instanceof DirectoryUnavailable)) throw err;
        failures.push(err.message);
      }
    }
    throw new DirectoryUnavailable(`No domain controller answered: ${failures.join(' | ')}`.slice(0, 1000));
  }

  private async with<T>(operation: string, client: Promise<Client>, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await client;
    try {
      return await fn(c);
    } catch (err) {
      throw mapLdapError(err, operation);
    } finally {
      await c.unbind().catch(() => undefined);
    }
  }

  bind(url: string): Promise<void> {
    return this.with(`bind to ${url}`, this.bound(url), () => Promise.resolve());
  }

  createProbe(ou: string, name: string): Promise<void> {
    const dn = computerDn(name, ou);
    return this.with(`add ${dn}`, this.any(), async (c) => {
      const a = (type: string, value: string): Attribute => new Attribute({ type, values: [value] });
      await c.add(dn, [a('objectClass', 'computer'), a('cn', name), a('sAMAccountName', `${name}$`), a('userAccountControl', String(PROBE_UAC)), a('description', PROBE_DESCRIPTION)]);
    });
  }

  deleteProbe(ou: string, name: string): Promise<void> {
    const dn = computerDn(name, ou);
    return this.with(`delete ${dn}`, this.any(), async (c) => {
      try {
        await c.del(dn, new Control(TREE_DELETE_OID, { critical: true }));
      } catch (err) {
        if (!(err instanceof NoSuchObjectError)) throw err;
      }
    });
  }

  zoneAccess(): Promise<ZoneAccess | undefined> {
    return this.with('read the DNS zone permissions', this.any(), async (c) => {
      const bindDn = await this.account();
      const dn = bindDn.includes('=') ? bindDn : await this.findAccount(c, bindDn);
      const { searchEntries: me } = await c.search(dn, { scope: 'base', attributes: ['objectSid', 'tokenGroups'], explicitBufferAttributes: ['objectSid', 'tokenGroups'] });
      const entry = me[0];
      const sids = entry ? [...buffers(entry, 'objectSid'), ...buffers(entry, 'tokenGroups')].map((b) => sidToString(b)) : [];
      for (const zoneDn of dnsZoneDns(this.config.domain, this.config.baseDn)) {
        let entries: Entry[];
        try {
          ({ searchEntries: entries } = await c.search(zoneDn, { scope: 'base', attributes: ['nTSecurityDescriptor'], explicitBufferAttributes: ['nTSecurityDescriptor'] }, new SdFlagsControl()));
        } catch (err) {
          if (err instanceof NoSuchObjectError) continue;
          throw err;
        }
        const sd = entries[0] ? buffers(entries[0], 'nTSecurityDescriptor')[0] : undefined;
        if (sd) return { zoneDn: entries[0]?.dn ?? zoneDn, securityDescriptor: sd, sids };
      }
      return undefined;
    });
  }

  /** The DN of a UPN (user@domain) or DOMAIN\user bind name. */
  private async findAccount(c: Client, name: string): Promise<string> {
    const sam = name.replace(/@.*$/, '').replace(/^.*\\/, '');
    const filter = new OrFilter({ filters: [new EqualityFilter({ attribute: 'userPrincipalName', value: name }), new EqualityFilter({ attribute: 'sAMAccountName', value: sam })] });
    const { searchEntries } = await c.search(this.config.baseDn, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 2 });
    const dn = searchEntries[0]?.dn;
    if (!dn) throw new DirectoryUnavailable(`The bound account ${name} was not found under ${this.config.baseDn}`);
    return dn;
  }
}
