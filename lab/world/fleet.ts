/**
 * LabFleet: the Fleet port (EC2 + SSM) over the lab world. Instances, tags and launch times come
 * from the lab state; the "Parameter Store" is a folder of 0600 files; the "SSM agent" runs the
 * REAL infra/documents/*.sh inside the instance, with parameters handed over the way SSM does
 * for aws:runShellScript with interpolationType ENV_VAR (SSM Agent >= 3.3.3572.0): ONLY as
 * SSM_<Name> environment variables (the script text is never touched), a `{{ssm-secure:NAME}}`
 * reference resolved at run time into its variable. SendCommand refuses a value that does not
 * match its parameter's allowed pattern (InvalidParameters), as SSM does.
 * A resolved secret is never stored: not in the command record, not in its output.
 *
 * Also: labSettings() (the Settings of the lab world) and labDeps() (Deps for the tasks).
 */
import { joinScript } from '../../infra/documents';
import { SimExecutionHistory } from '../sim/claims';
import { SimPacer } from '../sim/pacer';
import { DEFAULT_PACING } from '../../tasks/lib/pace';
import { attempt, FileClaims } from './claims';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Client, type ClientOptions } from 'ldapts';
import { AwsRefused, DirectoryUnavailable } from '../../tasks/lib/errors';
import type { Deps, DepsProvider } from '../../tasks/lib/deps';
import type { Claims, CommandResult, CommandStatus, Fleet, FleetFor, InstanceInfo, LifecycleActionRef, OtpParameter, PingStatus, SendCommandRequest, SsmBoard } from '../../tasks/lib/ports';
import { defaultTagSettings, documentNames, validateSettings, type Settings } from '../../tasks/lib/settings';
import { LdapDirectory } from '../../tasks/adapters/ldap-directory';
import { lazyDirectories } from '../../tasks/lib/routing';
import { joinSecretName, joinSecretPath } from '../../tasks/lib/naming';
import { HOST_LINK, LAB_ACCOUNT, LAB_REGION, LAB_REGION_2, labPaths, type LabPaths } from './paths';
import { readState, type InstanceRecord, type LabState } from './state';
import { setTags } from './index';
import { instanceExec } from './instance';
import { TIMED_OUT } from './sh';
import { parseParams } from '../../infra/document-params';
import { realClock } from '../../engine/clock';

export const DOCUMENTS_DIR = path.join(__dirname, '..', '..', 'infra', 'documents');
const SCRIPT_OF: Record<'join' | 'verify', string> = { join: 'join.sh', verify: 'verify.sh' };
/** GetCommandInvocation returns at most this much of each stream. */
export const OUTPUT_LIMIT = 24_000;

// ---- documents ------------------------------------------------------------------------------

export interface DocumentParam {
  name: string;
  description: string;
  /** undefined: required. */
  default?: string;
  allowedPattern?: string;
}

/** The `# param:` header lines, read by the same code as the document builder. */
export function documentParams(script: string): DocumentParam[] {
  return Object.entries(parseParams(script)).map(([name, p]) => ({
    name,
    description: p.description,
    ...(p.default !== undefined ? { default: p.default } : {}),
    allowedPattern: p.allowedPattern,
  }));
}

const SECURE_REF = /\{\{\s*ssm-secure:([A-Za-z0-9_./-]+)\s*\}\}/g;

/**
 * What SSM checks at SendCommand: every parameter declared, every required one given, every
 * value matching its allowed pattern. Returns the full parameter set (defaults filled in).
 */
export function resolveParameters(params: DocumentParam[], given: Record<string, string>, documentName: string): Record<string, string> {
  const problems: string[] = [];
  const declared = new Map(params.map((p) => [p.name, p]));
  for (const k of Object.keys(given)) if (!declared.has(k)) problems.push(`parameter ${k} is not declared by ${documentName}`);
  const values: Record<string, string> = {};
  for (const p of params) {
    const v = given[p.name] ?? p.default;
    if (v === undefined) {
      problems.push(`required parameter ${p.name} is missing`);
      continue;
    }
    if (p.allowedPattern && !new RegExp(p.allowedPattern).test(v)) problems.push(`parameter ${p.name} does not match its allowed pattern`);
    values[p.name] = v;
  }
  if (problems.length) throw new AwsRefused(`SendCommand: InvalidParameters: ${problems.join('; ')}`);
  return values;
}

// ---- the lab Parameter Store ------------------------------------------------------------------

/** A Region's Parameter Store: LAB_REGION's is the folder itself, another Region's a subfolder named after it. */
const paramsDirOf = (paths: LabPaths, region: string = LAB_REGION): string => (region === LAB_REGION ? paths.paramsDir : path.join(paths.paramsDir, region));
const paramFile = (paths: LabPaths, name: string, region?: string): string => path.join(paramsDirOf(paths, region), `${Buffer.from(name).toString('base64url')}.secure`);

export function readParameter(name: string, paths: LabPaths = labPaths(), region: string = LAB_REGION): string | undefined {
  try {
    return fs.readFileSync(paramFile(paths, name, region), 'utf8');
  } catch {
    return undefined;
  }
}

/** The lab's deployed SSM document names (Settings.documents), as infra names them. */
export const LAB_DOCUMENTS = documentNames('adjoin');

/**
 * Parameter name for an instance's one-time password: the name the AWS adapter uses for the
 * same deployed settings (tasks/adapters/default-deps.ts: joinSecretPath of the join document).
 */
export const labJoinSecretName = (instanceId: string, joinDocument: string = LAB_DOCUMENTS.join): string =>
  joinSecretName(instanceId, joinSecretPath(joinDocument));

// ---- commands -------------------------------------------------------------------------------

/** What Run Command history keeps: no resolved secret, ever. */
export interface LabCommandRecord {
  commandId: string;
  instanceId: string;
  document: SendCommandRequest['document'];
  documentName: string;
  /** As sent: a secret appears only as its `{{ssm-secure:…}}` reference. */
  parameters: Record<string, string>;
  comment: string;
  timeoutSeconds: number;
  status: CommandStatus;
  exitCode?: number;
  stdout: string;
  stderr: string;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The process that runs it (a record left InProgress by a dead process is reported Terminated). */
  ownerPid: number;
  /** The Region it was sent in; absent: LAB_REGION. */
  region?: string;
}

const FINAL: CommandStatus[] = ['Success', 'Failed', 'TimedOut', 'Cancelled', 'Undeliverable', 'Terminated'];

export interface LabFleetOptions {
  paths?: LabPaths;
  /** Deployed document names (Settings.documents), shown in command records. */
  documentNames?: { join: string; verify: string };
  /** Where join.sh and verify.sh are read from (default infra/documents). */
  documentsDir?: string;
  /** How often a command waiting for its instance's agent to come Online looks again (default 500 ms). */
  agentPollMs?: number;
  /**
   * The lab Region this fleet answers for (default LAB_REGION): it sees only instances of that
   * Region (a record without one is LAB_REGION's), its commands, and its own Parameter Store.
   */
  region?: string;
}

export class LabFleet implements Fleet {
  private readonly paths: LabPaths;
  private readonly documents: { join: string; verify: string };
  private readonly commands = new Map<string, LabCommandRecord>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly region: string;

  constructor(private readonly options: LabFleetOptions = {}) {
    this.paths = options.paths ?? labPaths();
    this.documents = options.documentNames ?? LAB_DOCUMENTS;
    this.region = options.region ?? LAB_REGION;
  }

  /** The same fleet's view of another lab Region (EC2/SSM there: only that Region's instances). */
  inRegion(region: string): LabFleet {
    return region === this.region ? this : new LabFleet({ ...this.options, region });
  }

  private inThisRegion = (region: string | undefined): boolean => (region ?? LAB_REGION) === this.region;

  private state(): LabState {
    const s = readState(this.paths);
    if (!s) throw new AwsRefused(`lab: not up (no state in ${this.paths.root})`);
    return s;
  }

  private record(instanceId: string): InstanceRecord | undefined {
    const r = this.state().instances[instanceId];
    return r && this.inThisRegion(r.region) ? r : undefined;
  }

  private static info(r: InstanceRecord): InstanceInfo {
    return {
      instanceId: r.instanceId,
      state: r.state,
      platform: 'linux',
      tags: { ...r.tags },
      privateDnsName: r.privateDnsName,
      launchTime: new Date(r.launchTime),
    };
  }

  describeInstance(instanceId: string): Promise<InstanceInfo | undefined> {
    return attempt(() => {
      const r = this.record(instanceId);
      return r ? LabFleet.info(r) : undefined;
    });
  }

  describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>> {
    return attempt(() => {
      const s = this.state();
      const out = new Map<string, InstanceInfo>();
      for (const id of instanceIds) {
        const r = s.instances[id];
        if (r && this.inThisRegion(r.region)) out.set(id, LabFleet.info(r));
      }
      return out;
    });
  }

  tagInstance(instanceId: string, tags: Record<string, string>): Promise<void> {
    return attempt(() => {
      if (!this.record(instanceId)) throw new AwsRefused(`CreateTags: InvalidInstanceID.NotFound: ${instanceId}`);
      setTags(instanceId, tags);
    });
  }

  ssmPingStatus(instanceId: string): Promise<PingStatus> {
    return attempt(() => {
      const r = this.record(instanceId);
      return r ? pingOf(r) : 'NotRegistered';
    });
  }

  /** The SSM Online board's batched check (DescribeInstanceInformation with up to 50 InstanceIds): unknown instances absent. */
  ssmPingStatuses(instanceIds: string[]): Promise<Map<string, PingStatus>> {
    return attempt(() => {
      if (instanceIds.length > 50) throw new RangeError(`ssmPingStatuses: at most 50 instances per call, got ${instanceIds.length}`);
      const out = new Map<string, PingStatus>();
      for (const id of instanceIds) {
        const r = this.record(id);
        if (r) out.set(id, pingOf(r));
      }
      return out;
    });
  }

  putJoinSecret(instanceId: string, value: string): Promise<string> {
    return attempt(() => {
      const name = labJoinSecretName(instanceId, this.documents.join);
      fs.mkdirSync(paramsDirOf(this.paths, this.region), { recursive: true, mode: 0o700 });
      const file = paramFile(this.paths, name, this.region);
      fs.writeFileSync(file, value, { mode: 0o600 });
      fs.chmodSync(file, 0o600);
      return name;
    });
  }

  deleteJoinSecret(instanceId: string): Promise<void> {
    return attempt(() => {
      fs.rmSync(paramFile(this.paths, labJoinSecretName(instanceId, this.documents.join), this.region), { force: true });
    });
  }

  /** The lab Parameter Store's files directly under the join-secret path (a file's mtime is its LastModifiedDate). */
  listOtpParameters(): Promise<OtpParameter[]> {
    return attempt(() => {
      const prefix = joinSecretPath(this.documents.join);
      const dir = paramsDirOf(this.paths, this.region);
      let files: string[];
      try {
        files = fs.readdirSync(dir);
      } catch {
        return [];
      }
      return files.flatMap((f) => {
        if (!f.endsWith('.secure')) return [];
        const name = Buffer.from(f.slice(0, -'.secure'.length), 'base64url').toString();
        if (!name.startsWith(prefix) || name.slice(prefix.length).includes('/')) return [];
        return [{ name, lastModified: fs.statSync(path.join(dir, f)).mtime }];
      });
    });
  }

  sendCommand(request: SendCommandRequest): Promise<string> {
    return attempt(() => {
      const r = this.record(request.instanceId);
      if (!r || r.state !== 'running')
        throw new AwsRefused(`SendCommand: InvalidInstanceId: ${request.instanceId} is not in a valid state for account ${LAB_ACCOUNT}`);
      // The lab's machines are Linux: the Windows document is proven on paper and in lab/sim only.
      if (request.document === 'joinWindows') throw new AwsRefused(`SendCommand: InvalidDocument: the lab runs no Windows instance (${request.instanceId})`);
      const documentName = this.documents[request.document];
      const read = (file: string): string => fs.readFileSync(path.join(this.options.documentsDir ?? DOCUMENTS_DIR, file), 'utf8');
      // The join document is join.sh with verify.sh appended, exactly as infra/documents.ts builds it.
      const script = request.document === 'join' ? joinScript(read) : read(SCRIPT_OF[request.document]);
      const values = resolveParameters(documentParams(script), request.parameters, documentName);
      const rec: LabCommandRecord = {
        commandId: randomUUID(),
        instanceId: request.instanceId,
        document: request.document,
        documentName,
        parameters: { ...request.parameters },
        comment: request.comment.slice(0, 100),
        timeoutSeconds: Math.max(30, request.timeoutSeconds),
        status: 'Pending',
        stdout: '',
        stderr: '',
        requestedAt: new Date().toISOString(),
        ownerPid: process.pid,
        ...(this.region !== LAB_REGION ? { region: this.region } : {}),
      };
      this.commands.set(rec.commandId, rec);
      this.save(rec);
      const p = this.deliver(rec, script, values).catch((err: unknown) => {
        this.finish(rec, 'Failed', -1, '', `lab agent: ${err instanceof Error ? err.message : String(err)}`, []);
      });
      this.running.set(rec.commandId, p);
      void p.finally(() => this.running.delete(rec.commandId));
      return rec.commandId;
    });
  }

  /** The lab world has no Auto Scaling groups: a lifecycle answer is refused, as AWS refuses an unknown group. */
  completeLifecycleAction(action: LifecycleActionRef): Promise<boolean> {
    return EMPTY_FLEET.completeLifecycleAction(action, 'CONTINUE');
  }
  recordLifecycleHeartbeat(action: LifecycleActionRef): Promise<boolean> {
    return EMPTY_FLEET.recordLifecycleHeartbeat(action);
  }

  getCommand(commandId: string, instanceId: string): Promise<CommandResult> {
    return attempt(() => {
      const rec = this.commands.get(commandId) ?? this.load(commandId);
      if (!rec || rec.instanceId !== instanceId || !this.inThisRegion(rec.region)) throw new AwsRefused(`GetCommandInvocation: InvocationDoesNotExist: ${commandId}`);
      let status = rec.status;
      if (!FINAL.includes(status) && !this.commands.has(commandId) && !pidAlive(rec.ownerPid)) status = 'Terminated';
      return {
        status,
        ...(rec.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
        stdout: rec.stdout,
        stderr: rec.stderr,
      };
    });
  }

  /** Every command record this lab has (newest first), for the CLI and tests. */
  listCommands(instanceId?: string): LabCommandRecord[] {
    const byId = new Map<string, LabCommandRecord>();
    try {
      for (const f of fs.readdirSync(this.paths.commandsDir)) {
        if (!f.endsWith('.json')) continue;
        const r = this.load(f.slice(0, -5));
        if (r) byId.set(r.commandId, r);
      }
    } catch {
      /* no commands yet */
    }
    for (const r of this.commands.values()) byId.set(r.commandId, r);
    return [...byId.values()].filter((r) => !instanceId || r.instanceId === instanceId).sort((a, b) => b.requestedAt.localeCompare(a.requestedAt));
  }

  /** Resolves when every command this fleet started has finished (bounded by their own timeouts). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  /** Waits (bounded) until a command is final; returns its result. */
  async waitForCommand(commandId: string, instanceId: string, timeoutMs = 180_000): Promise<CommandResult> {
    const t0 = Date.now();
    for (let i = 0; i < 100_000; i++) {
      const r = await this.getCommand(commandId, instanceId);
      if (FINAL.includes(r.status)) return r;
      if (Date.now() - t0 > timeoutMs) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
    return this.getCommand(commandId, instanceId);
  }

  // ---- the "agent" ----------------------------------------------------------------------------

  private async deliver(rec: LabCommandRecord, script: string, values: Record<string, string>): Promise<void> {
    const deadline = Date.parse(rec.requestedAt) + rec.timeoutSeconds * 1000;
    // Pending until the instance's agent is Online (like SSM), within the command's timeout.
    for (let i = 0; i < 100_000; i++) {
      const r = this.record(rec.instanceId);
      if (!r || r.state !== 'running') return this.finish(rec, 'Undeliverable', -1, '', '', []);
      if (pingOf(r) === 'Online') break;
      if (Date.now() > deadline) return this.finish(rec, 'TimedOut', -1, '', '', []);
      await new Promise((res) => setTimeout(res, this.options.agentPollMs ?? 500));
    }
    const inst = this.record(rec.instanceId);
    if (!inst || inst.state !== 'running') return this.finish(rec, 'Undeliverable', -1, '', '', []);

    // Like the agent with ENV_VAR: each value only as SSM_<Name>; a secure reference resolved
    // at run time into its variable (failures are the command's, like the real agent).
    const secrets: string[] = [];
    const missing: string[] = [];
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(values)) {
      env[`SSM_${k}`] = v.replace(SECURE_REF, (_, name: string) => {
        const secret = readParameter(name, this.paths, this.region);
        if (secret === undefined) {
          missing.push(name);
          return '';
        }
        secrets.push(secret);
        return secret;
      });
    }
    if (missing.length) return this.finish(rec, 'Failed', 1, '', `failed to resolve secure parameters: ${missing.join(', ')} (ParameterNotFound)`, []);

    rec.status = 'InProgress';
    rec.startedAt = new Date().toISOString();
    this.save(rec);
    const timeoutMs = Math.max(1000, deadline - Date.now());
    // Like the agent: the script goes to a file of its own (here on the instance's private /run
    // tmpfs, 0700) run as `sh -c <file>` (its #! line picks bash), then the file is removed.
    const dir = `/run/adjoin-ssm/${rec.commandId}`;
    const runner = [
      'umask 077; mkdir -p /run/adjoin-ssm "$1"; cat >"$1/_script.sh" <&3; exec 3<&-; chmod 700 "$1/_script.sh"',
      'rc=0; cd "$1" && sh -c "$1/_script.sh" </dev/null || rc=$?; rm -rf "$1"; exit $rc',
    ].join('\n');
    const res = await instanceExec(inst, ['/bin/sh', '-c', runner, 'adjoin-agent', dir], { timeoutMs, fd3: script, env });
    const after = this.record(rec.instanceId);
    let status: CommandStatus = res.exitCode === 0 ? 'Success' : 'Failed';
    if (res.exitCode === TIMED_OUT && Date.now() >= deadline - 50) status = 'TimedOut';
    if (!after || after.state !== 'running') status = status === 'Success' ? 'Success' : 'Terminated';
    this.finish(rec, status, status === 'TimedOut' ? -1 : res.exitCode, res.stdout, res.stderr, secrets);
  }

  private finish(rec: LabCommandRecord, status: CommandStatus, exitCode: number, stdout: string, stderr: string, secrets: string[]): void {
    const scrub = (s: string): string => secrets.reduce((acc, v) => (v ? acc.split(v).join('***') : acc), s).slice(0, OUTPUT_LIMIT);
    rec.status = status;
    rec.exitCode = exitCode;
    rec.stdout = scrub(stdout);
    rec.stderr = scrub(stderr);
    rec.finishedAt = new Date().toISOString();
    this.save(rec);
  }

  private save(rec: LabCommandRecord): void {
    try {
      fs.mkdirSync(this.paths.commandsDir, { recursive: true, mode: 0o700 });
      const file = path.join(this.paths.commandsDir, `${rec.commandId}.json`);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2), { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      /* the lab went down meanwhile: the in-memory record still answers */
    }
  }

  private load(commandId: string): LabCommandRecord | undefined {
    if (!/^[0-9a-f-]{36}$/.test(commandId)) return undefined;
    try {
      return JSON.parse(fs.readFileSync(path.join(this.paths.commandsDir, `${commandId}.json`), 'utf8')) as LabCommandRecord;
    } catch {
      return undefined;
    }
  }
}


function pingOf(r: InstanceRecord): PingStatus {
  if (r.state === 'terminated') return 'Inactive';
  if (r.state !== 'running') return 'ConnectionLost';
  return Date.now() >= Date.parse(r.ssmOnlineAt) ? 'Online' : 'NotRegistered';
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// ---- settings and deps ------------------------------------------------------------------------

export interface LabSettingsOptions {
  idMapping?: 'sid' | 'rfc2307';
  /** Last word on any field (applied before validation). */
  customize?: (s: Settings) => void;
}

/** The Settings of the lab world (validated). Throws when the lab is not up. */
export function labSettings(opts: LabSettingsOptions = {}, paths: LabPaths = labPaths()): Settings {
  const s = readState(paths);
  if (!s) throw new Error(`lab: not up (no state in ${paths.root}); run up() first`);
  const d = s.domain;
  const settings: Settings = {
    directory: {
      kind: 'self-managed',
      domain: d.dnsDomain,
      netbiosName: d.netbiosName,
      baseDn: d.baseDn,
      computerOu: d.managedOu,
      managedOus: [d.managedOu],
      // Every DC, DC1 first (the adapter tries them in order); each verified against its own name.
      ldapUrls: d.domainControllers?.map((dc) => `ldaps://${dc.ip}`) ?? [d.ldapsUrl],
      tlsServerName: d.dcFqdn,
      domainControllers: d.domainControllers?.map(({ hostName, ip }) => ({ hostName, ip })) ?? [{ hostName: d.dcFqdn, ip: d.dcIp }],
      caFile: d.caFile,
      insecure: false,
      bindDn: d.bindDn,
      bindPasswordFile: d.bindPasswordFile,
      dcIps: d.domainControllers?.map((dc) => dc.ip) ?? [d.dcIp],
      idMapping: opts.idMapping === 'rfc2307' ? { mode: 'rfc2307' } : { mode: 'sid', domainSid: d.domainSid },
      loginGroups: [d.loginGroup],
      probeUsers: opts.idMapping === 'rfc2307' ? ['carol'] : ['alice'],
    },
    tags: defaultTagSettings(),
    naming: { prefix: '' },
    documents: { ...LAB_DOCUMENTS },
    claimsTableName: 'adjoin-lab-join-claims',
    timings: { settleSeconds: 1, ssmOnlineDeadlineSeconds: 120, commandDeadlineSeconds: 180, claimLeaseSeconds: 600 },
    // As deployed by default: the SSM calls paced, the SSM Online board on (tasks/lib/pace.ts, ssm-board.ts).
    pacing: { ...DEFAULT_PACING },
    reconcile: { graceSeconds: 60, maxDeletions: 20, dryRun: false },
  };
  opts.customize?.(settings);
  return validateSettings(JSON.parse(JSON.stringify(settings)));
}

/**
 * Network safety: the product's LDAP client runs in the root namespace and reaches the DC only
 * through the `adjoin-host` link into the lab bridge. Before every connection it checks that
 * the link exists and the target is on the lab subnet; with the lab down it fails at once
 * (DirectoryUnavailable) instead of sending anything anywhere.
 */
export function assertLabRoute(url: string): void {
  const host = /^ldaps?:\/\/\[?([^\]/:]+)/.exec(url)?.[1] ?? '';
  if (!/^10\.77\.0\.\d{1,3}$/.test(host)) throw new DirectoryUnavailable(`lab: refusing to connect to ${url}: not a lab address`);
  if (!fs.existsSync(`/sys/class/net/${HOST_LINK}`)) throw new DirectoryUnavailable(`lab: the lab network is down (no ${HOST_LINK} link): not connecting to ${url}`);
}

/** The product's LDAP adapter, guarded so it can only ever reach the lab DC. */
export function labDirectory(settings: Settings = labSettings()): LdapDirectory {
  return new LdapDirectory(settings.directory, {
    createClient: (o: ClientOptions) => {
      assertLabRoute(o.url);
      return new Client(o);
    },
  });
}

/**
 * Fleets by account/Region: the lab's own is the LabFleet; in LAB_REGION_2 the same LabFleet's
 * view of that Region (only when `fleet` is a LabFleet, possibly wrapped); any other is an empty account.
 */
export function labFleetFor(fleet: Fleet = new LabFleet()): FleetFor {
  let second: Fleet | undefined;
  return ({ account, region }) => {
    if (account !== LAB_ACCOUNT) return EMPTY_FLEET;
    if (region === LAB_REGION) return fleet;
    if (region === LAB_REGION_2 && fleet instanceof LabFleet) return (second ??= fleet.inRegion(LAB_REGION_2));
    return EMPTY_FLEET;
  };
}

const EMPTY_FLEET: Fleet = {
  describeInstance: () => Promise.resolve(undefined),
  describeInstances: () => Promise.resolve(new Map()),
  tagInstance: (id) => Promise.reject(new AwsRefused(`CreateTags: InvalidInstanceID.NotFound: ${id}`)),
  ssmPingStatus: () => Promise.resolve('NotRegistered'),
  putJoinSecret: (id) => Promise.reject(new AwsRefused(`PutParameter: AccessDenied for ${id} (not the lab account)`)),
  deleteJoinSecret: () => Promise.resolve(),
  listOtpParameters: () => Promise.resolve([]),
  sendCommand: (r) => Promise.reject(new AwsRefused(`SendCommand: InvalidInstanceId: ${r.instanceId}`)),
  getCommand: (id) => Promise.reject(new AwsRefused(`GetCommandInvocation: InvocationDoesNotExist: ${id}`)),
  completeLifecycleAction: (a) => Promise.reject(new AwsRefused(`CompleteLifecycleAction: ValidationError: no Auto Scaling group ${a.autoScalingGroupName}`)),
  recordLifecycleHeartbeat: (a) => Promise.reject(new AwsRefused(`RecordLifecycleActionHeartbeat: ValidationError: no Auto Scaling group ${a.autoScalingGroupName}`)),
};

export interface LabDepsOptions extends LabSettingsOptions {
  fleet?: Fleet;
  logger?: Logger;
  /** The join claims (default: the lab's table on disk, lab/world/claims.ts, shared by every process). */
  claims?: Claims;
  executions?: SimExecutionHistory;
}

/** The wall clock; `sleep` lets the polling tasks poll inside their invocation (tasks/lib/poll.ts), as in Lambda. */
const wallClock = realClock;

/** Deps for the tasks over the lab world: real LDAPS to the lab DC, the LabFleet, real clock, the claims on disk. */
export function labDeps(opts: LabDepsOptions = {}): Deps {
  const settings = labSettings(opts);
  const fleet = opts.fleet ?? new LabFleet({ documentNames: settings.documents });
  const directory = labDirectory(settings);
  const claims = opts.claims ?? new FileClaims();
  return {
    settings,
    directory,
    // The lab has one domain: every other directory name is a ConfigurationError.
    directoryFor: lazyDirectories(settings, () => directory, directory),
    fleetFor: labFleetFor(fleet),
    claims,
    // The pacing lines in this process's memory (a burst runs in one process; a CLI redrive in
    // another is paced on its own), the SSM Online board on the claims file (lab/world/claims.ts).
    pacer: new SimPacer(),
    ...(isBoard(claims) ? { board: claims } : {}),
    executions: opts.executions ?? new SimExecutionHistory(),
    clock: wallClock,
    random: { bytes: (n) => randomBytes(n) },
    logger:
      opts.logger ??
      new Logger({ serviceName: 'adjoin-lab', logLevel: (process.env.ADJOIN_LAB_LOG_LEVEL ?? 'SILENT') as 'SILENT' }),
  };
}

/** A DepsProvider that builds the lab deps once. */
export function labDepsProvider(opts: LabDepsOptions = {}): DepsProvider {
  let built: Deps | undefined;
  return () => {
    built ??= labDeps(opts);
    return Promise.resolve(built);
  };
}

export { LAB_ACCOUNT, LAB_REGION, LAB_REGION_2 };

/** Does this claims table also serve the SSM Online board? (The lab's file table does; a fault wrapper may not.) */
function isBoard(c: Claims): c is Claims & SsmBoard {
  const b = c as Partial<SsmBoard>;
  return typeof b.waiting === 'function' && typeof b.markOnline === 'function' && typeof b.recordSweep === 'function' && typeof b.sweepHealth === 'function';
}
