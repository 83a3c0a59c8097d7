/**
 * The doctor's real ports for a deployment: the network probe, the LDAP probe and the AWS probe,
 * all built from the same settings and LDAP adapter the tasks use (so the TLS options, the CA
 * and the bind credentials are exactly theirs).
 */
import { Client, type ClientOptions } from 'ldapts';
import { type DoctorPorts, hostPort } from '../lib/doctor';
import type { Settings } from '../lib/settings';
import { AwsDoctor } from './aws-doctor';
import { LdapDirectory } from './ldap-directory';
import { LdapDoctor } from './ldap-doctor';
import { NetProbe } from './net-probe';

export interface ProbeOptions {
  /** Region of the AWS probe; absent: no AWS checks (the lab). */
  region?: string;
  /** Refuses a host before any socket is opened, LDAP ones included (the lab's address guard). */
  guard?: (host: string) => void;
  /** Resolver for DC names (default: the system's). */
  resolve?: (name: string) => Promise<string[]>;
  createClient?: (options: ClientOptions) => Client;
}

export function buildProbes(settings: Settings, options: ProbeOptions = {}): Pick<DoctorPorts, 'probe' | 'directory' | 'aws'> {
  const guard = options.guard;
  const createClient =
    options.createClient ??
    (guard
      ? (o: ClientOptions): Client => {
          guard(hostPort(o.url).host);
          return new Client(o);
        }
      : undefined);
  const directory = new LdapDirectory(settings.directory, createClient ? { createClient } : {});
  return {
    probe: new NetProbe({
      tlsOptions: async (url) => (await directory.clientOptions(url)).tlsOptions ?? {},
      ...(guard ? { guard } : {}),
      ...(options.resolve ? { resolve: options.resolve } : {}),
    }),
    directory: new LdapDoctor(directory, settings.directory, createClient ? { createClient } : {}),
    ...(options.region ? { aws: new AwsDoctor({ region: options.region, ...(settings.memberRoleName ? { memberRoleName: settings.memberRoleName } : {}) }) } : {}),
  };
}
