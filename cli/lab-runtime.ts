/**
 * The lab runtime the CLI uses for `--local` start / redrive and `lab launch` / `lab terminate`:
 * the ASL synthesized from infra/ (timings matched to the lab's settings), the lab's deps (real
 * LDAPS to the lab DC, the LabFleet that runs the real SSM documents in the instance), and the
 * local engine recording every execution in the lab's execution store. Wiring only: every piece
 * lives in its own home (infra/asl.ts, lab/world/fleet.ts, engine/).
 *
 * Loaded lazily (it pulls in aws-cdk-lib to synthesize): listing and showing never load it.
 */
import { synthesizeDefinitions } from '../infra/asl';
import { LocalEngine, type ExecutionRecord, type ExecutionStore } from '../engine';
import { cleanUpFailedJoins, type RecordingHistory } from '../lab/sim/cleanup';
import { LabAutoScaling } from '../lab/world/autoscaling';
import { LAB_ACCOUNT, LAB_REGION, LabFleet, labDepsProvider, labSettings } from '../lab/world/fleet';
import type { DepsProvider } from '../tasks/lib/deps';
import type { Settings } from '../tasks/lib/settings';
import type { Workflow } from './backend';

/** Runs the product's ASL on the local engine against the lab world. */
export interface LabRuntime {
  /** Starts an execution and resolves when it ends, with its record (also saved to the store). */
  start(workflow: Workflow, input: unknown, name: string): Promise<ExecutionRecord>;
  /** Redrives a recorded execution from its failed state (the lab's emulation of RedriveExecution). */
  redrive(record: ExecutionRecord): Promise<ExecutionRecord>;
}

export interface RuntimeParts {
  store: ExecutionStore;
  /** Default: the lab's (needs the lab up). Tests pass simulated deps. */
  deps?: DepsProvider;
  settings?: Settings;
  /** Passed to the engine (a VirtualClock in tests). */
  clock?: ConstructorParameters<typeof LocalEngine>[1]['clock'];
  account?: string;
  region?: string;
}

/** Builds the engine over the workflows (join, join-cleanup, leave, reconcile) and exposes start / redrive. */
export function makeLabRuntime(parts: RuntimeParts): LabRuntime {
  const settings = parts.settings ?? labSettings();
  const account = parts.account ?? LAB_ACCOUNT;
  const region = parts.region ?? LAB_REGION;
  const defs = synthesizeDefinitions(
    {
      timings: {
        settleSeconds: settings.timings.settleSeconds,
        ssmOnlineDeadlineSeconds: settings.timings.ssmOnlineDeadlineSeconds,
        commandDeadlineSeconds: settings.timings.commandDeadlineSeconds,
        claimLeaseSeconds: settings.timings.claimLeaseSeconds,
      },
    },
    { account, region },
  );
  const definitions: Record<string, unknown> = { join: defs.join };
  if (defs['join-cleanup']) definitions['join-cleanup'] = defs['join-cleanup'];
  if (defs.leave) definitions.leave = defs.leave;
  if (defs.reconcile) definitions.reconcile = defs.reconcile;
  // The lab's Auto Scaling groups answer the lifecycle calls (lab launch --asg): shared through the lab's state directory.
  const deps = parts.deps ?? labDepsProvider({ fleet: LabAutoScaling.inLab().fleet(new LabFleet({ documentNames: settings.documents })) });
  const engine = new LocalEngine(definitions, {
    deps,
    store: parts.store,
    // As the EventBridge rule does in AWS: a join that ends badly starts the join-cleanup machine.
    onEnd: async (record, self) => {
      const history = (await deps()).executions;
      if ('record' in history) await cleanUpFailedJoins(history as RecordingHistory)(record, self);
    },
    account,
    region,
    ...(parts.clock ? { clock: parts.clock } : {}),
  });
  return {
    start: (workflow, input, name) => engine.start(workflow, input, { name }),
    redrive: (record) => engine.redrive(record),
  };
}
