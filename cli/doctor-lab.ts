/**
 * `adjoin --local doctor`: the same checks (tasks/lib/doctor.ts, the same adapters) against the
 * lab: its settings, its DC over the lab link (every address, LDAP included, guarded by assertLabRoute, names
 * resolved by the lab DC's own DNS), and its LabFleet for `--instance`. There are no AWS
 * endpoints in the lab, so those checks are not run. Loaded lazily (needs the lab up).
 */
import { randomBytes } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { assertLabRoute, LAB_ACCOUNT, LAB_REGION, LabFleet, labSettings } from '../lab/world/fleet';
import { isUp } from '../lab/world';
import { buildProbes } from '../tasks/adapters/doctor-ports';
import { type DoctorReport, type InstanceFacts, runDoctor } from '../tasks/lib/doctor';
import type { Settings } from '../tasks/lib/settings';
import type { DoctorRequest, DoctorSource } from './doctor';
import { failed, usage } from './exit';

const guard = (host: string): void => assertLabRoute(`ldaps://${host}`);

/** Resolves through the lab DC's DNS (its address guarded like every lab connection). */
function labResolve(settings: Settings): (name: string) => Promise<string[]> {
  return async (name) => {
    for (const ip of settings.directory.dcIps) guard(ip);
    const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers(settings.directory.dcIps);
    return resolver.resolve4(name);
  };
}

async function labInstance(fleet: LabFleet, instanceId: string): Promise<InstanceFacts | undefined> {
  const info = await fleet.describeInstance(instanceId);
  if (!info) return undefined;
  return { ...info, pingStatus: await fleet.ssmPingStatus(instanceId) };
}

export function labDoctorSource(): DoctorSource {
  return async (request: DoctorRequest): Promise<DoctorReport> => {
    if (request.targets.length > 0) throw usage('--target checks member roles on AWS; the lab has none.');
    if (!(await isUp().catch(() => false))) throw failed('The lab is not up.', 'Run `adjoin lab up` first (as root).');
    const settings = labSettings();
    const fleet = new LabFleet();
    return runDoctor(
      request.instance ? { instance: { instanceId: request.instance.instanceId, account: request.instance.account ?? LAB_ACCOUNT, region: request.instance.region ?? LAB_REGION } } : {},
      {
        settings,
        ...buildProbes(settings, {
          guard,
          resolve: labResolve(settings),
        }),
        instance: (id) => labInstance(fleet, id),
        clock: { now: () => new Date() },
        random: { bytes: (n) => randomBytes(n) },
      },
    );
  };
}
