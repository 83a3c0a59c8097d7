/**
 * The real targets: AWS through SDK v3 clients, and the lab (execution store, lab world, and
 * the local engine, built lazily on first start or redrive).
 */
import { AwsBackend } from './aws-backend';
import type { Io, Targets } from './program';

export function realTargets(io: Pick<Io, 'err'>): Targets {
  const targets: Targets = {
    aws: (options) => new AwsBackend(options),
    lab: async (globals) => {
      const { LabBackend } = await import('./lab-backend');
      const link = await import('./lab-link');
      return new LabBackend({
        store: link.labStore(),
        runtime: () => {
          if (!globals.json) io.err('Preparing the local engine (synthesizing the state machines)…');
          return link.loadLabRuntime();
        },
        world: link.labWorld,
        identity: link.labIdentity,
        statusPrefix: globals.tagPrefix,
      });
    },
    labControl: async (globals) => {
      const link = await import('./lab-link');
      const backend = await targets.lab(globals);
      return { world: link.labWorld, backend: () => Promise.resolve(backend), groups: link.labGroups };
    },
    // Loaded on use: the other commands do not pay for the Directory Service client.
    directoryService: (globals) => ({
      describe: async (directoryId) => {
        const [{ DirectoryServiceClient }, { SdkDirectoryService }] = await Promise.all([import('@aws-sdk/client-directory-service'), import('../tasks/adapters/ds-directory-service')]);
        return new SdkDirectoryService(new DirectoryServiceClient({ region: globals.region, profile: globals.profile, maxAttempts: 3 }), globals.region).describe(directoryId);
      },
    }),
    doctor: (globals) => async (request) =>
      globals.local ? (await import('./doctor-lab')).labDoctorSource()(request) : (await import('./doctor-aws')).awsDoctorSource()(request),
  };
  return targets;
}
