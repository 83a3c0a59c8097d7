/**
 * What each task receives and returns: the shape of the state data. workflows/ build the
 * Payload of each Task from these, tasks/ implement them. Keep both sides in step.
 *
 * The join execution's state object grows as it goes:
 *   { event, instance, ssm, computer, join }  (and the output of "Record result" at the end)
 * Every task result is written under its own ResultPath, so the Step Functions console shows
 * each step's output on its own. No task ever returns a secret or a one-time password.
 */
import type { CommandStatus, LifecycleAction } from './ports';

/** The EventBridge event that started the execution (EC2 state-change notification). */
export interface Ec2StateEvent {
  version?: string;
  id?: string;
  'detail-type': string; // 'EC2 Instance State-change Notification'
  source: string; // 'aws.ec2'
  account: string;
  region: string;
  time?: string;
  resources?: string[];
  detail: { 'instance-id': string; state: string };
}

/**
 * A computer object found and judged ours: its GUID pins the very object the delete re-checks;
 * `directory` names its directory when more than one is configured (tasks/lib/routing.ts).
 */
export interface ObjectRef {
  dn: string;
  name: string;
  guid?: string;
  directory?: string;
}

/** How a lifecycle hook was answered (accepted false: it was no longer pending). */
export interface LifecycleAnswer {
  result: 'CONTINUE' | 'ABANDON';
  accepted: boolean;
}

/** Where an instance lives (every task after the first carries this). */
export interface InstanceRef {
  instanceId: string;
  account: string;
  region: string;
}

// ---- join ---------------------------------------------------------------------------------

/**
 * "Read instance" — Payload: { event: $, executionName: $$.Execution.Name }. The event is any
 * entry event (tasks/lib/entry.ts parseEntry: EC2 state change, tag change, lifecycle launch).
 */
export interface ReadInstanceInput {
  event: unknown;
  executionName: string;
}
/** Result at $.instance. The Choice "Opted in?" reads $.instance.outcome. */
export interface ReadInstanceOutput extends InstanceRef {
  /** proceed: join it. skipped: not opted in / opted out / not running / windows-unsupported.
   *  already-joined: our status tag says joined. in-progress: another execution holds the claim. */
  outcome: 'proceed' | 'skipped' | 'already-joined' | 'in-progress';
  /** Readable reason, shown as the execution output when it ends early. */
  reason: string;
  platform: 'linux' | 'windows';
  /** Login groups for this instance (tag value, validated, or the configured default). */
  loginGroups: string[];
  /** The launch hook's action (lifecycle event): answered by Record result, the cleanup or here. */
  lifecycle?: LifecycleAction;
  /** Routed (tasks/lib/routing.ts, when proceeding): the directory and computer OU of the join. */
  directory?: string;
  computerOu?: string;
  /** What "Read instance" answered the launch hook (skipped / already joined: CONTINUE). */
  lifecycleAnswer?: LifecycleAnswer;
}

/**
 * "Wait for SSM Online" — Payload: { instance: $.instance, redriveCount: $$.Execution.RedriveCount,
 * executionName: $$.Execution.Name }. Throws SsmAgentNotOnline (retried), InstanceGone.
 */
export interface CheckSsmAgentInput {
  instance: ReadInstanceOutput;
  /** The redrive round: each round's wait has its own deadline (absent: 0). */
  redriveCount?: number;
  /** The execution holding the claim, where the round's wait start is kept (absent: the state's retries alone end the wait). */
  executionName?: string;
}
export interface CheckSsmAgentOutput {
  pingStatus: 'Online';
}

/** "Prepare computer object" — Payload: { instance: $.instance, executionName: $$.Execution.Name } */
export interface PrepareComputerInput {
  instance: ReadInstanceOutput;
  executionName: string;
}
export interface PrepareComputerOutput {
  name: string;
  dn: string;
  fqdn: string;
  /** created: new object; reused: an object with our marker got a fresh one-time password. */
  action: 'created' | 'reused';
  /** Parameter Store name holding the one-time password (the value is never in state data). */
  secretName: string;
  /** The DC (host name) that wrote the object and its password: the join goes through it. */
  domainController?: string;
}

/**
 * "Run join document" — Payload:
 *   { instance: $.instance, computer: $.computer, redriveCount: $$.Execution.RedriveCount,
 *     executionName: $$.Execution.Name }
 * Sends the join document (join + verification, ONE command per redrive round) and polls it:
 * each call either sends (first call of a round) or reads the command, and throws
 * JoinStillRunning while it runs (the state's own retry is the poll). Ends with the result, or
 * JoinCommandFailed / VerificationFailed (exit 7) / CommandTimedOut: the execution fails *here*
 * and a redrive (redriveCount + 1) sends a fresh command with a fresh one-time password.
 */
export interface RunJoinInput {
  instance: ReadInstanceOutput;
  computer: PrepareComputerOutput;
  redriveCount: number;
  executionName: string;
}
/** Result at $.join. */
export interface RunJoinOutput {
  commandId: string;
  status: CommandStatus;
  redriveCount: number;
  /** Last lines of stdout/stderr (bounded, secrets never present). */
  output: string;
}

/**
 * "Record result" — Payload: { instance, computer, join: $.join, executionName }. Tags the
 * instance, deletes the secret, marks the claim joined. Its result IS the execution's output.
 */
export interface RecordResultInput {
  instance: ReadInstanceOutput;
  computer: PrepareComputerOutput;
  join: { commandId: string };
  executionName: string;
}
export interface RecordResultOutput {
  outcome: 'joined';
  instanceId: string;
  computerName: string;
  commandId: string;
  tags: Record<string, string>;
  /** The launch hook's answer (CONTINUE), when the join came with one. */
  lifecycle?: LifecycleAnswer;
}

// ---- join cleanup ---------------------------------------------------------------------------

/**
 * "Clean up failed join" — the input of the join-cleanup machine: the detail of the "Step
 * Functions Execution Status Change" event of a join execution that ended FAILED, TIMED_OUT or
 * ABORTED (`input` is the join execution's input, as a JSON string).
 */
export interface CleanupInput {
  executionArn: string;
  name: string;
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  input: string;
  error?: string;
  cause?: string;
}
export interface CleanupOutput {
  /** cleaned: this execution held the claim and its traces are gone. nothing: not ours / joined / never claimed. */
  outcome: 'cleaned' | 'nothing';
  instanceId?: string;
  reason: string;
  passwordReset: boolean;
  failedState?: string;
  /** The launch hook's answer, when the join came with one. */
  lifecycle?: LifecycleAnswer;
}

/** "Remove what the join made" (compensation) — Payload: { instance: $.instance, error: $.error } */
export interface CompensationInput {
  instance: InstanceRef & { lifecycle?: LifecycleAction; directory?: string; computerOu?: string };
  /** The caught error ({Error, Cause} from a Catch with ResultPath $.error). */
  error?: { Error?: string; Cause?: string };
}
export interface CompensationOutput {
  outcome: 'abandoned';
  reason: string;
  deleted: string[]; // DNs
  /** The launch hook's answer (lifecycle.onJoinFailure), when the instance came with one. */
  lifecycle?: LifecycleAnswer;
}

// ---- leave --------------------------------------------------------------------------------

/**
 * "Find computer objects" — Payload: { event: $ }: any leave entry event, read by
 * tasks/lib/entry.ts parseEntry (FindObjectsEventInput) into the instance and its entry.
 */
export interface FindObjectsEventInput {
  event: unknown;
  expectedGuid?: string;
}
export interface FindObjectsInput {
  instance: InstanceRef;
  /** How the leave came (absent: a terminated instance, as the EC2 event says). */
  entry?: { action: 'join' | 'leave' | 'none'; reason: string; lifecycle?: LifecycleAction; trigger?: string };
  /** The objectGUID recorded when the join created the object, when one is known. */
  expectedGuid?: string;
}
export interface FindObjectsOutput extends InstanceRef {
  /** delete: the instance is gone and these objects carry its marker. nothing: none found.
   *  instance-alive: EC2 says the instance is not terminated: nothing is touched. */
  outcome: 'delete' | 'nothing' | 'instance-alive';
  reason: string;
  objects: ObjectRef[];
  /** The terminate hook's action: answered CONTINUE here (nothing to delete) or by "Record leave". */
  lifecycle?: LifecycleAction;
  lifecycleAnswer?: LifecycleAnswer;
  /** A leave on opt-out (tags.leaveOnOptOut) of a living instance: the delete re-checks the tag, Record leave tags "left" and releases the claim. */
  optOut?: boolean;
  /** The instance's one-time-password parameter could not be deleted (a refusal; the reconcile sweeps it). */
  otpNotDeleted?: string;
  /** Objects that carry the marker but may not be deleted (outcome nothing): how many. */
  refused?: number;
}

/** "Delete computer object" (a Map item, also used by reconcile) — Payload: { item, instance } */
export interface DeleteObjectInput {
  object: ObjectRef;
  instance: InstanceRef & { optOut?: boolean };
  /** reconcile passes the grace period; the task re-checks every safety rule before deleting. */
  graceSeconds?: number;
}
export interface DeleteObjectOutput {
  dn: string;
  deleted: boolean;
  dnsRecordsRemoved: number;
  reason: string;
  /** The directory refused to delete the DNS records (the object was deleted anyway). */
  dnsFailed?: boolean;
  /** Why, and the host name whose records are left: retry by hand. */
  dnsReason?: string;
}

/**
 * One "Delete computer object" Map item's result (leave and reconcile): the task's own output,
 * or what the workflow's Catch made of an error: a refusal ("skipped") or a non-transient
 * failure ("failed").
 */
export interface DeleteItemResult extends Partial<DeleteObjectOutput> {
  outcome?: 'skipped' | 'failed';
  /** The caught error's name. */
  error?: string;
}

export interface DeleteCounts {
  deleted: number;
  alreadyGone: number;
  skipped: number;
  failed: number;
  dnsRecordsRemoved: number;
  /** Objects deleted whose DNS records the directory refused to delete. */
  dnsFailed: number;
}

/** "Record leave" — Payload: { instance: $.found, deleted: $.deleted } */
export interface RecordLeaveInput {
  instance: InstanceRef & { lifecycle?: LifecycleAction; optOut?: boolean };
  deleted: DeleteItemResult[];
  executionName?: string;
}
export interface RecordLeaveOutput extends InstanceRef, DeleteCounts {
  /** left: every object went (or was already gone). partial: some were skipped or failed, or DNS records were left. */
  outcome: 'left' | 'partial';
  deletedDns: string[];
  notDeleted: { dn: string; reason: string }[];
  /** Objects deleted whose DNS records are left (the directory refused): delete them by hand. */
  dnsNotRemoved: { dn: string; reason: string }[];
  /** The terminate hook's answer (CONTINUE), when the leave came with one. */
  lifecycle?: LifecycleAnswer;
}

// ---- reconcile ----------------------------------------------------------------------------

/** "Find stale objects" — Payload: { input: $ (the execution input), executionName } */
export interface FindStaleInput {
  /** From the execution input: overrides settings.reconcile.dryRun when present. */
  dryRun?: boolean;
}

/** One stale object, in the shape the "Delete computer object" Map item takes. */
export interface StaleItem {
  object: ObjectRef;
  instance: InstanceRef;
}

export interface ScanCounts {
  scanned: number;
  stale: number;
  /** No complete marker: never ours. */
  notOurs: number;
  outsideManagedOu: number;
  young: number;
  alive: number;
  joinRunning: number;
  /** A full marker, but not proven ours (objectGUID / creator): never deleted. */
  notProvenOurs: number;
  /** Objects of accounts/Regions EC2 could not be asked about: skipped, never deleted. */
  unreachable: number;
}

/** One account and Region whose EC2 could not be asked (role refused, endpoint down): its objects were skipped. */
export interface SkippedAccount {
  account: string;
  region: string;
  error: string;
  reason: string;
  objects: number;
}

/** The one-time-password sweep of a reconcile run (tasks/lib/otp-sweep.ts). */
export interface OtpSweepOutput {
  maxAgeSeconds: number;
  listed: number;
  /** Deleted (in a dry run: would be deleted). */
  swept: number;
  /** Computer objects whose password was reset before their parameter went. */
  passwordsReset: number;
  /** Left alone, by reason. */
  notOurs: number;
  young: number;
  joinRunning: number;
  /** Accounts/Regions whose parameters could not be listed. */
  skippedAccounts: SkippedAccount[];
}

/** Result at $.scan. */
export interface ScanOutput extends ScanCounts {
  dryRun: boolean;
  graceSeconds: number;
  /** The stale objects to delete (bounded: STALE_LIST_MAX_ITEMS / _BYTES in tasks/lib/reconcile.ts). */
  staleList: StaleItem[];
  /** Stale objects not in staleList (left for the next run, or listed only by count). */
  notListed: number;
  ldapPages: number;
  ec2Calls: number;
  fleets: number;
  skippedAccounts: SkippedAccount[];
  /** The one-time-password sweep (absent in a scan from before it existed). */
  otp?: OtpSweepOutput;
}

/** "Check deletion cap" — Payload: { scan: $.scan, executionName }. Result at $.guard. */
export interface CheckCapInput {
  scan: ScanOutput;
}
export interface GuardOutput {
  dryRun: boolean;
  maxDeletions: number;
  stale: number;
  /** In a dry run: would the cap have stopped a real run? */
  capExceeded: boolean;
  /** How many the Map will delete now (0 in a dry run). */
  toDelete: number;
}

/** "Report" — Payload: { scan: $.scan, guard: $.guard, deleted: $.deleted }. Result: the execution output. */
export interface ReportInput {
  scan: ScanOutput;
  guard: GuardOutput;
  deleted: DeleteItemResult[];
}
export interface ReconcileSummary {
  scanned: number;
  stale: number;
  deleted: number;
  skipped: number;
  failed: number;
  dryRun: boolean;
  alreadyGone: number;
  notListed: number;
  capExceeded: boolean;
  /** Objects deleted whose DNS records the directory refused to delete. */
  dnsFailed: number;
  /** Objects skipped because their account/Region could not be asked. */
  unreachable: number;
  skippedAccounts: SkippedAccount[];
  /** false: some accounts were skipped; the machine ends in "Reconcile incomplete". */
  complete: boolean;
  /** The Cause of ReconcileIncomplete (present when complete is false). */
  incompleteCause?: string;
  /** One-time passwords swept (in a dry run: would be), passwords reset first, and left alone by reason. */
  otpSwept: number;
  otpPasswordsReset: number;
  otpLeftAlone: { notOurs: number; young: number; joinRunning: number };
}
