/**
 * The SSM Command documents (schemaVersion 2.2, aws:runShellScript) built from the scripts in
 * infra/documents/*.sh. Each script declares its parameters in `# param:` header lines, read by
 * infra/document-params.ts: every parameter carries an allowed pattern, or the build is refused.
 * infra/documents/*.ps1 follow the same convention and become aws:runPowerShellScript
 * documents for Windows (powerShellDocument below).
 *
 * Every parameter is passed with interpolationType ENV_VAR (the script reads $SSM_<Name>, so a
 * value is never pasted into shell text by the agent).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ConfigurationError } from '../tasks/lib/errors';
import { parseParams, type DocumentParameter } from './document-params';

export { parseParams, REQUIRED, type DocumentParameter } from './document-params';

export const DocumentsDir = path.join(__dirname, 'documents');

export interface CommandDocumentContent {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<string, DocumentParameter>;
  mainSteps: {
    action: 'aws:runShellScript' | 'aws:runPowerShellScript';
    name: string;
    precondition: { StringEquals: [string, string] };
    inputs: { runCommand: string[]; timeoutSeconds: string };
  }[];
}

/** The document content for a script, as SSM wants it. */
export function commandDocument(script: string, options: { name: string; description: string; timeoutSeconds: number; file?: string }): CommandDocumentContent {
  return {
    schemaVersion: '2.2',
    description: options.description,
    parameters: parseParams(script, options.file),
    mainSteps: [{
      action: 'aws:runShellScript',
      name: options.name,
      precondition: { StringEquals: ['platformType', 'Linux'] },
      inputs: { runCommand: script.split('\n'), timeoutSeconds: String(options.timeoutSeconds) },
    }],
  };
}

/**
 * The aws:runPowerShellScript document (platform Windows) for a .ps1 with `# param:` headers.
 * Every parameter must declare an allowed pattern: SSM then refuses a bad value at SendCommand.
 */
export function powerShellDocument(script: string, options: { name: string; description: string; timeoutSeconds: number; file?: string }): CommandDocumentContent {
  const doc = commandDocument(script, options);
  const unpatterned = Object.keys(doc.parameters).filter((n) => !doc.parameters[n]?.allowedPattern);
  if (unpatterned.length > 0) throw new ConfigurationError([`${options.file ?? 'script'}: parameters without an allowed pattern: ${unpatterned.join(', ')}`]);
  const step = doc.mainSteps[0] as CommandDocumentContent['mainSteps'][number];
  return { ...doc, mainSteps: [{ ...step, action: 'aws:runPowerShellScript', precondition: { StringEquals: ['platformType', 'Windows'] } }] };
}

export const WINDOWS_JOIN_SCRIPT = 'join-windows.ps1';
/** The Windows join document's name for a stack prefix: `<prefix>-join-windows`. */
export const windowsJoinDocumentName = (prefix: string): string => `${prefix}-join-windows`;

/** The Windows join document (join, access and verification in one command) for a deadline. */
export function windowsJoinDocument(commandDeadlineSeconds: number): CommandDocumentContent {
  return powerShellDocument(readScript(WINDOWS_JOIN_SCRIPT), {
    name: 'joinWindows',
    description: 'adjoin: join this Windows instance to Active Directory with a one-time password, grant RDP to the login groups, verify',
    timeoutSeconds: commandDeadlineSeconds,
    file: WINDOWS_JOIN_SCRIPT,
  });
}

/**
 * The join document's script: join.sh, then verify.sh's checks in the same command (one
 * SendCommand per join). join.sh ends without `exit` when it succeeds, so verify.sh runs next;
 * its `# param:` lines that join.sh already declares are dropped (join.sh's declaration holds).
 */
export function joinScript(read: (file: string) => string = readScript): string {
  const join = read('join.sh');
  const declared = new Set(Object.keys(parseParams(join, 'join.sh')));
  const verify = read('verify.sh')
    .split('\n')
    .filter((line) => {
      const m = /^#\s*param:\s*([A-Za-z0-9]+)/.exec(line.trim());
      return !(m?.[1] !== undefined && declared.has(m[1]));
    })
    .join('\n');
  return `${join.replace(/\n*$/, '\n')}\n# ---- verification (infra/documents/verify.sh) ----\n${verify}`;
}

export function readScript(file: string): string {
  const full = path.join(DocumentsDir, file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch {
    throw new ConfigurationError([`documents: cannot read ${full}`]);
  }
}

export interface JoinDocumentsProps {
  /** Document names (Settings.documents). */
  joinName: string;
  verifyName: string;
  /** The command deadline: the documents time out with it. */
  commandDeadlineSeconds: number;
  /** The Windows join document's name: only when Windows is enabled (windows.enabled). */
  windowsJoinName?: string;
  /** Its deadline (windows.commandDeadlineSeconds): the reboot and the second run included. */
  windowsDeadlineSeconds?: number;
}

/** The documents, with fixed names (updated in place as new versions). */
export class JoinDocuments extends Construct {
  readonly join: ssm.CfnDocument;
  readonly verify: ssm.CfnDocument;
  readonly joinWindows?: ssm.CfnDocument;

  constructor(scope: Construct, id: string, props: JoinDocumentsProps) {
    super(scope, id);
    const make = (cid: string, name: string, content: CommandDocumentContent): ssm.CfnDocument =>
      new ssm.CfnDocument(this, cid, { name, documentType: 'Command', documentFormat: 'JSON', updateMethod: 'NewVersion', targetType: '/AWS::EC2::Instance', content });
    const linux = (cid: string, script: string, file: string, description: string): CommandDocumentContent =>
      commandDocument(script, { name: cid.toLowerCase(), description, timeoutSeconds: props.commandDeadlineSeconds, file });
    this.join = make('Join', props.joinName, linux('Join', joinScript(), 'join.sh',
      'adjoin: join this Linux instance to Active Directory with a one-time password (adcli + SSSD), then check that directory users resolve'));
    // By hand only (`adjoin` checks, an operator's Run Command): the join document verifies by itself.
    this.verify = make('Verify', props.verifyName, linux('Verify', readScript('verify.sh'), 'verify.sh', 'adjoin: check that directory users resolve on this instance (getent passwd / id)'));
    if (props.windowsJoinName !== undefined)
      this.joinWindows = make('JoinWindows', props.windowsJoinName, windowsJoinDocument(props.windowsDeadlineSeconds ?? props.commandDeadlineSeconds));
  }
}
