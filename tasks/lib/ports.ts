/**
 * Ports: the outside systems a task talks to. Domain functions take them explicitly; handlers
 * build the real adapters once at module scope (tasks/adapters/), the lab and the tests pass
 * their own. Nothing here imports the AWS SDK or ldapts.
 */

/** Who an object belongs to: stored on the computer object, matched by leave and reconcile. */
export interface Marker {
  account: string; // 12 digits
  region: string; // e.g. eu-west-1
  instanceId: string; // i- followed by 8 or 17 hex digits
}

export interface ComputerObject {
  dn: string;
  /** The computer name, without the trailing `$` of sAMAccountName. */
  name: string;
  /** Present only when the object carries our complete, parseable marker. */
  marker?: Marker;
  description?: string;
  dnsHostName?: string;
  whenCreated: Date;
  /** The DC (host name) that wrote it, when we just did (join through it: no replication race). */
  domainController?: string;
  /** objectGUID in canonical form (lower case, 8-4-4-4-12): the object's identity, never reused. */
  guid?: string;
  /**
   * Did the service account create this object? The adapter answers: the owner in the object's
   * security descriptor is the service account's SID (the creator of an object becomes its
   * owner). Absent or false: not proven ours (safety rule "ownership", tasks/lib/safety.ts).
   */
  createdByUs?: boolean;
  /** The owner SID the adapter read (for refusal reasons). */
  ownerSid?: string;
}

export interface NewComputer {
  /** The OU DN to create the object in (a managed OU). */
  ou: string;
  name: string; // <= 15 characters, validated by tasks/lib/naming
  fqdn: string;
  marker: Marker;
  description: string;
  /** One-time password; the adapter encodes it and never logs it. */
  password: string;
  osName?: string;
}

export interface Directory {
  /** Objects carrying this exact marker, in the managed OU(s) only. */
  findByMarker(marker: Marker): Promise<ComputerObject[]>;
  /** The computer whose sAMAccountName is `name$`, anywhere in the domain (for collisions). */
  findByName(name: string): Promise<ComputerObject | undefined>;
  /**
   * Create a computer object in one add (attribute set: lab/world/README.md, "Facts the code
   * relies on"), then read it back: the result carries its objectGUID and owner.
   */
  createComputer(spec: NewComputer): Promise<ComputerObject>;
  /** Reset the password of an object we own (reuse with a fresh one-time password); may say which DC wrote it. */
  resetPassword(dn: string, password: string): Promise<void | { domainController?: string }>;
  /** Delete with the tree-delete control. Absent object: resolves (idempotent). */
  deleteComputer(dn: string): Promise<void>;
  /** Remove A/AAAA records of this host from AD-integrated DNS; returns how many were removed. */
  deleteDnsRecords(hostname: string): Promise<number>;
  /** Every object with a marker attribute in the managed OU(s), page by page (page size <= 1000). */
  listManaged(): AsyncIterable<ComputerObject[]>;
}

export type InstanceState =
  | 'pending'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'shutting-down'
  | 'terminated';

export interface InstanceInfo {
  instanceId: string;
  state: InstanceState;
  platform: 'linux' | 'windows';
  tags: Record<string, string>;
  privateDnsName?: string;
  launchTime?: Date;
  /** Auto Scaling lifecycle state (e.g. Terminating:Wait), only when asked for and the instance is in a group. */
  lifecycleState?: string;
}

export type PingStatus = 'Online' | 'ConnectionLost' | 'Inactive' | 'NotRegistered';

export type CommandStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Failed'
  | 'TimedOut'
  | 'Cancelled'
  | 'Cancelling'
  | 'Undeliverable'
  | 'Terminated';

export interface CommandResult {
  status: CommandStatus;
  exitCode?: number;
  stdout: string;
  stderr: string;
}

export interface SendCommandRequest {
  instanceId: string;
  /** Which of our documents: the adapter maps this to the deployed document name (joinWindows: Windows enabled only). */
  document: 'join' | 'verify' | 'joinWindows';
  /** Document parameters. A secret is passed only as `{{ssm-secure:NAME}}`, never as a value. */
  parameters: Record<string, string>;
  /** Shown in Run Command history: execution name and step, never a secret. */
  comment: string;
  timeoutSeconds: number;
}

/** The lifecycle action to complete when the workflow ends (CompleteLifecycleAction's keys). */
export interface LifecycleAction {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  lifecycleActionToken: string;
  transition: 'launch' | 'terminate';
}

/** A pending Auto Scaling lifecycle action (from the lifecycle event; tasks/lib/entry.ts). */
export interface LifecycleActionRef {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  lifecycleActionToken: string;
  instanceId: string;
}

/** CONTINUE: the instance goes InService (launch) or on to terminate; ABANDON: it is terminated. */
export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** A parameter under the one-time-password path, as listed (never its value). */
export interface OtpParameter {
  name: string;
  lastModified: Date;
}

/** EC2 + SSM (+ Auto Scaling lifecycle actions) for one account and Region. */
export interface Fleet {
  /**
   * undefined when EC2 does not know the instance (InvalidInstanceID.NotFound). With
   * `autoScaling`, an instance of an Auto Scaling group also gets its lifecycleState (one more call).
   */
  describeInstance(instanceId: string, options?: { autoScaling?: boolean }): Promise<InstanceInfo | undefined>;
  /** Batched describe (reconcile). Instances EC2 does not know are absent from the map. Any error throws. */
  describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>>;
  tagInstance(instanceId: string, tags: Record<string, string>): Promise<void>;
  ssmPingStatus(instanceId: string): Promise<PingStatus>;
  /**
   * The ping status of up to 50 instances in one DescribeInstanceInformation call (filter
   * InstanceIds; the SSM Online board's sweep). Instances SSM does not know are absent. Any error throws.
   */
  ssmPingStatuses?(instanceIds: string[]): Promise<Map<string, PingStatus>>;
  /** Store a one-time password as a SecureString parameter; returns the parameter name. */
  putJoinSecret(instanceId: string, value: string): Promise<string>;
  deleteJoinSecret(instanceId: string): Promise<void>;
  /**
   * Every parameter directly under the join-secret path (name and LastModifiedDate, never the
   * value), all pages (the reconcile sweep). Any error throws.
   */
  listOtpParameters(): Promise<OtpParameter[]>;
  sendCommand(request: SendCommandRequest): Promise<string>;
  getCommand(commandId: string, instanceId: string): Promise<CommandResult>;
  /**
   * Answer a lifecycle hook. Resolves false when the action is no longer pending (answered
   * before, or timed out and its default result taken): a redriven answer is harmless.
   */
  completeLifecycleAction(action: LifecycleActionRef, result: LifecycleResult): Promise<boolean>;
  /** Extend a pending lifecycle action by its heartbeat timeout. False when no longer pending. */
  recordLifecycleHeartbeat(action: LifecycleActionRef): Promise<boolean>;
}

/** The fleet of a given account and Region (member accounts are reached through a role). */
export type FleetFor = (target: { account: string; region: string }) => Fleet;

/** Where a join stands, in the claims table (one item per instance). */
export type ClaimStatus = 'joining' | 'joined' | 'failed' | 'released';
/** How far the join of the current round got (the cleanup reads it). */
export type ClaimPhase = 'prepared' | 'command-sent' | 'joined-verified';

/** The claims-table item of one instance. Times are epoch seconds. */
export interface Claim {
  /** `<account>/<region>/<instance-id>` (tasks/lib/claim.ts claimKey). */
  key: string;
  /** The execution name holding the claim. */
  execution: string;
  status: ClaimStatus;
  claimedAt: number;
  leaseUntil: number;
  /** DynamoDB TTL: the item disappears some time after this. */
  ttl: number;
  /** The redrive round ($$.Execution.RedriveCount) the current command belongs to. */
  round?: number;
  commandId?: string;
  /** When the current command was sent (epoch seconds). */
  sentAt?: number;
  objectGuid?: string;
  dn?: string;
  computerName?: string;
  phase?: ClaimPhase;
  failedState?: string;
  error?: string;
  /** The directory the join routed to (tasks/lib/routing.ts): the cleanup acts there. */
  directory?: string;
  /** When this execution last sent a lifecycle heartbeat (tasks/lib/lifecycle.ts). */
  heartbeatAt?: number;
  /** When "Wait for SSM Online" of round ssmRound first found the agent not Online (tasks/lib/ssm-agent.ts). */
  ssmWaitSince?: number;
  ssmRound?: number;
  /**
   * The SSM Online board (tasks/lib/ssm-board.ts): while this execution waits for the agent, its
   * shard `<account>/<region>/<0-9>` (the key of the claims table's `ssm-wait` index), since when
   * (epoch s: the index's sort key), and the round; the sweeper sets ssmOnlineAt (epoch s, 0: not
   * yet) and removes ssmWait when it sees the agent Online.
   */
  ssmWait?: string;
  ssmWaitAt?: number;
  ssmWaitRound?: number;
  ssmOnlineAt?: number;
}

/** The fields a holder may change on its claim. */
export type ClaimChanges = Partial<Omit<Claim, 'key' | 'execution' | 'claimedAt'>>;

/** What a take returned: taken (the new item), or held (the item that stopped us). */
export type TakeResult = { taken: true; claim: Claim } | { taken: false; holder: Claim };

/**
 * The join claims (DynamoDB in production, lab/sim/claims.ts in the lab): ONE atomic,
 * conditional write decides which execution joins an instance.
 */
export interface Claims {
  get(key: string): Promise<Claim | undefined>;
  /**
   * Takes the claim for `execution` when there is no item, the item is ours, its status is
   * failed or released, or its lease expired (a leaseUntil further ahead than `leaseSeconds`,
   * or a claimedAt in the future, is invalid and counts as expired). A joined item is never
   * taken. Otherwise returns the holder's item.
   */
  take(key: string, execution: string, nowSeconds: number, leaseSeconds: number): Promise<TakeResult>;
  /** Changes the claim only while `execution` holds it (and, with `unlessJoined`, it is not joined): false when not. */
  update(key: string, execution: string, changes: ClaimChanges, options?: { unlessJoined?: boolean }): Promise<boolean>;
}

/**
 * The SSM Online board (tasks/lib/ssm-board.ts) on the claims table: who is waiting for an SSM
 * agent, and the sweeper's word that one is Online. DynamoDB: a sparse index `ssm-wait`
 * (tasks/adapters/dynamodb-claims.ts); lab/sim/claims.ts in memory.
 */
export interface SsmBoard {
  /** Claim keys registered in `shard` at or after `sinceSeconds` (all pages, eventually consistent). */
  waiting(shard: string, sinceSeconds: number): Promise<string[]>;
  /** The agent of `key` is Online: ssmOnlineAt = atSeconds, ssmWait removed; false when it was not waiting (any more). */
  markOnline(key: string, atSeconds: number): Promise<boolean>;
  /** How the last sweeps of `board` (`board/<account>/<region>`) went: the last success and the last failure (epoch s). */
  recordSweep(board: string, outcome: 'ok' | 'failed', atSeconds: number): Promise<void>;
  sweepHealth(board: string): Promise<{ okAt?: number; failedAt?: number }>;
}

/** The failure of a join execution, as its history tells it (GetExecutionHistory). */
export interface ExecutionFailure {
  state?: string;
  error?: string;
  cause?: string;
}

/** Step Functions' history of our executions (the cleanup reads the failed state). */
export interface ExecutionHistory {
  lastFailure(executionArn: string): Promise<ExecutionFailure | undefined>;
}

export interface Clock {
  now(): Date;
  /**
   * Waits `ms` on this clock (a virtual clock moves by it). Optional: without it a polling task
   * polls once per invocation and leaves the pause to the state's Retry (tasks/lib/poll.ts).
   */
  sleep?(ms: number): Promise<void>;
}

/** Cryptographic randomness for one-time passwords (a port so tests are deterministic). */
export interface Random {
  bytes(n: number): Buffer;
}

/** What AWS Directory Service says of one directory (DescribeDirectories). */
export interface DirectoryFacts {
  directoryId: string;
  /** Its DNS name, e.g. corp.example.com. */
  name: string;
  /** Its NetBIOS name, e.g. CORP. */
  shortName?: string;
  /** MicrosoftAD, SimpleAD, ADConnector, SharedMicrosoftAD. */
  type: string;
  /** Active, Creating, Impaired, … */
  stage: string;
  /** The domain controllers' IPs (DNS servers). */
  dnsIpAddrs: string[];
  vpcId?: string;
}

/** AWS Directory Service (tasks/adapters/ds-directory-service.ts): read-only. */
export interface DirectoryService {
  /** undefined when Directory Service does not know the ID (in this account and Region). */
  describe(directoryId: string): Promise<DirectoryFacts | undefined>;
}

/** The APIs a join paces (tasks/lib/pace.ts; settings.pacing's keys). */
export type PacedApi = 'sendCommand' | 'getCommandInvocation' | 'describeInstanceInformation';

/** Calls per second per account and Region, shared by every adjoin Lambda; 0 or absent: not paced. */
export type PacingSettings = Partial<Record<PacedApi, number>>;

/** A slot taken, or the line too long for the caller (epoch ms). */
export type SlotResult = { slotMs: number } | { full: true; lineEndsMs: number };

/** Lines of calls shared by every Lambda (tasks/lib/pace.ts): on the claims table (tasks/adapters/dynamodb-pacer.ts), in memory for the simulator (lab/sim/pacer.ts). */
export interface Pacer {
  /**
   * The next slot of line `key` for calls `spacingMs` apart, if it is at or before `latestMs`
   * (epoch ms); `nowMs` is the caller's clock. Full: nothing is written. Atomic.
   */
  take(key: string, nowMs: number, spacingMs: number, latestMs: number): Promise<SlotResult>;
  /** The line's end as last written (epoch ms; undefined: no line), read without a write (eventually consistent). */
  peek(key: string): Promise<number | undefined>;
}
