/**
 * The Windows join document: parsed by a real PowerShell grammar (tree-sitter-powershell, wasm,
 * through web-tree-sitter), built by infra/documents.ts, and checked against the parameters
 * the product sends (windowsJoinParameters).
 */
import * as fs from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { parseParams, powerShellDocument, readScript, REQUIRED, WINDOWS_JOIN_SCRIPT, windowsJoinDocument, windowsJoinDocumentName } from '../../infra/documents';
import { ConfigurationError } from '../../tasks/lib/errors';
import { windowsJoinParameters } from '../../tasks/lib/windows';
import { prepared, proceed, testSettings } from '../fakes';

const script = readScript(WINDOWS_JOIN_SCRIPT);
let parser: Parser;

beforeAll(async () => {
  await Parser.init({ locateFile: () => require.resolve('web-tree-sitter/web-tree-sitter.wasm') });
  // Bytes, not a path: with a path web-tree-sitter imports fs dynamically (refused under jest).
  const language = await Language.load(fs.readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm')));
  parser = new Parser();
  parser.setLanguage(language);
});
afterAll(() => parser?.delete());

/** Every ERROR or MISSING node of a parse, with its line (1-based) and text. */
function syntaxErrors(source: string): string[] {
  const tree = parser.parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  const found: string[] = [];
  const walk = (n: Node): void => {
    if (n.type === 'ERROR' || n.isMissing) found.push(`${n.isMissing ? 'MISSING' : 'ERROR'} at line ${n.startPosition.row + 1}: ${n.text.slice(0, 80)}`);
    for (const c of n.children) if (c) walk(c);
  };
  walk(tree.rootNode);
  tree.delete();
  return found;
}

/** The script without comment lines (the code SSM runs). */
const code = script.split('\n').filter((l) => !/^\s*#/.test(l));

describe('join-windows.ps1 parses as PowerShell', () => {
  it('has no ERROR or MISSING node', () => {
    expect(syntaxErrors(script)).toEqual([]);
  });

  it('the check can fail: broken copies have errors', () => {
    // A function body without its closing brace.
    const noBrace = script.replace("function Say([string]$Message) { Write-Output \"adjoin: $Message\" }", "function Say([string]$Message) { Write-Output \"adjoin: $Message\"");
    expect(noBrace).not.toBe(script);
    expect(syntaxErrors(noBrace).length).toBeGreaterThan(0);
    // An if without its condition's closing parenthesis.
    const noParen = script.replace("if ($Dcs.Count -lt 1) {", "if ($Dcs.Count -lt 1 {");
    expect(noParen).not.toBe(script);
    expect(syntaxErrors(noParen).length).toBeGreaterThan(0);
  });
});

/**
 * Mistakes PowerShell refuses that the tree-sitter grammar accepts: "$Name:" inside a string
 * (a drive/scope-qualified name: write "${Name}:"), and a function named like a keyword.
 */
function grammarBlindSpots(lines: string[]): string[] {
  const scoped = /\$(?!(?:env|script|global|local|private|using|function|variable):)[A-Za-z_]\w*:(?![\w:])/;
  const keywordFunction = /^\s*function\s+(param|begin|process|end|if|else|foreach|for|while|switch|return|exit|class|filter|trap|data)\b/i;
  return lines.filter((l) => scoped.test(l) || keywordFunction.test(l));
}

describe('PowerShell mistakes the grammar does not see', () => {
  it('none in join-windows.ps1', () => {
    expect(grammarBlindSpots(code)).toEqual([]);
  });

  it('the check can fail', () => {
    expect(grammarBlindSpots(['  Fail 5 "joined to $Domain: leave it"', 'function Param([string]$a) { }', '$x = "${Domain}: ok $env:COMPUTERNAME $script:Otp"'])).toEqual([
      '  Fail 5 "joined to $Domain: leave it"',
      'function Param([string]$a) { }',
    ]);
  });
});

describe('the Windows join document', () => {
  const doc = windowsJoinDocument(600);
  const names = Object.keys(doc.parameters);

  it('is a schema 2.2 aws:runPowerShellScript document for Windows, timed by the deadline', () => {
    expect(doc.schemaVersion).toBe('2.2');
    expect(doc.mainSteps).toHaveLength(1);
    expect(doc.mainSteps[0]).toMatchObject({ action: 'aws:runPowerShellScript', name: 'joinWindows', precondition: { StringEquals: ['platformType', 'Windows'] }, inputs: { timeoutSeconds: '600' } });
    expect(doc.mainSteps[0]?.inputs.runCommand.join('\n')).toBe(script);
    expect(windowsJoinDocumentName('adjoin')).toBe('adjoin-join-windows');
  });

  it('declares exactly the parameters, each with a pattern and ENV_VAR interpolation', () => {
    expect(names.sort()).toEqual(
      ['AdminGroups', 'AdministratorsGroup', 'ComputerName', 'ComputerOu', 'DomainControllers', 'DomainName', 'HostFqdn', 'LoginGroups', 'NetbiosName', 'OneTimePassword', 'ProbeUsers', 'RemoteDesktopGroup'].sort(),
    );
    for (const n of names) {
      const p = doc.parameters[n];
      expect([n, p?.type, p?.interpolationType]).toEqual([n, 'String', 'ENV_VAR']);
      expect([n, typeof p?.allowedPattern]).toEqual([n, 'string']);
      expect(() => new RegExp(p?.allowedPattern ?? '')).not.toThrow();
      expect([n, p?.description.length]).not.toEqual([n, 0]);
    }
    const required = names.filter((n) => doc.parameters[n]?.default === undefined).sort();
    expect(required).toEqual(['ComputerName', 'ComputerOu', 'DomainControllers', 'DomainName', 'HostFqdn', 'NetbiosName', 'OneTimePassword', 'ProbeUsers']);
    expect(doc.parameters.RemoteDesktopGroup?.default).toBe('Remote Desktop Users');
    expect(doc.parameters.AdministratorsGroup?.default).toBe('Administrators');
    expect(doc.parameters.LoginGroups?.default).toBe('-');
    expect(doc.parameters.AdminGroups?.default).toBe('-');
    for (const n of names) expect(doc.parameters[n]?.default).not.toBe(REQUIRED);
  });

  it('the OneTimePassword parameter accepts only a secure-string reference', () => {
    const re = new RegExp(doc.parameters.OneTimePassword?.allowedPattern ?? '');
    expect(re.test('{{ssm-secure:/adjoin/otp/i-0123456789abcdef0}}')).toBe(true);
    expect(re.test('Aa1-a-real-password-value')).toBe(false);
    expect(re.test('{{ssm:/adjoin/otp/i-0123456789abcdef0}}')).toBe(false);
    expect(re.test('{{ssm-secure:/x}} && evil')).toBe(false);
  });

  it('accepts what windowsJoinParameters sends, and each pattern refuses a hostile value', () => {
    const windows = { ...proceed, platform: 'windows' as const, loginGroups: ['rdp users', 'ops'] };
    const sent = windowsJoinParameters(testSettings(), windows, prepared, { adminGroups: ['win-admins'], remoteDesktopGroup: 'Remote Desktop Users', administratorsGroup: 'Administrators' });
    expect(Object.keys(sent).sort()).toEqual([...names].sort());
    for (const [k, v] of Object.entries(sent)) expect([k, new RegExp(doc.parameters[k]?.allowedPattern ?? '^$').test(v)]).toEqual([k, true]);
    const minimal = windowsJoinParameters(testSettings(), { ...windows, loginGroups: [] }, prepared);
    for (const [k, v] of Object.entries(minimal)) expect([k, new RegExp(doc.parameters[k]?.allowedPattern ?? '^$').test(v)]).toEqual([k, true]);
    for (const n of names) {
      for (const evil of ["x'; Remove-Item C:\\ -Recurse", 'a$(whoami)', 'a`b', 'x\ny']) {
        expect([n, evil, new RegExp(doc.parameters[n]?.allowedPattern ?? '').test(evil)]).toEqual([n, evil, false]);
      }
    }
  });

  it('reads every parameter from its SSM_<Name> environment variable and never pastes {{Name}}', () => {
    const text = code.join('\n');
    for (const n of names) {
      expect([n, text.includes(`ReadParam '${n}'`) || text.includes(`'SSM_${n}'`)]).toEqual([n, true]);
      expect(script).not.toMatch(new RegExp(`\\{\\{\\s*${n}\\s*\\}\\}`));
    }
    expect(script).not.toMatch(/\{\{\s*ssm/);
  });

  it('never shows the one-time password: no transcript, no tracing, no output of it', () => {
    expect(script).not.toMatch(/Start-Transcript|Set-PSDebug\s+-Trace|-Verbose\b|\$VerbosePreference|\$DebugPreference/i);
    // A line that writes something may use the password's length, never its value (the
    // masking line of Fail excepted).
    const value = /\$script:Otp(?!\.Length|\.Contains\()|\$secure\b|\$credential\b/i;
    const writes = /\b(Say|Write-\w+|Out-\w+|Fail|WriteLine)\b/;
    const leaks = code.filter((l) => value.test(l) && writes.test(l) && !l.includes(".Replace($script:Otp, '***')"));
    expect(leaks).toEqual([]);
    expect(code.filter((l) => value.test(l)).length).toBeGreaterThan(3); // the check looks at real lines
    // The password is removed from the environment right after it is read.
    expect(script).toContain("[Environment]::SetEnvironmentVariable('SSM_OneTimePassword', $null)");
  });

  it('uses only the exit codes its header documents (7 = verification failed, 3010 = reboot)', () => {
    const header = script.split('\n').filter((l) => l.startsWith('#')).join('\n');
    expect(header).toMatch(/7 verification failed/);
    expect(header).toMatch(/3010 joined, reboot requested/);
    const used = new Set<number>();
    for (const l of code) for (const m of l.matchAll(/\b(?:Fail|exit)\s+(\d+)/g)) used.add(Number(m[1]));
    expect([...used].sort((a, b) => a - b)).toEqual([0, 2, 4, 5, 6, 7, 3010]);
    for (const c of used) expect(header).toMatch(new RegExp(`\\b${c} [A-Za-z(]`));
  });
});

describe('powerShellDocument', () => {
  it('refuses a parameter without an allowed pattern', () => {
    expect(() => powerShellDocument('# param: A | a | (required) | ^a$\n# param: B | b | x\nexit 0', { name: 'x', description: 'd', timeoutSeconds: 60 })).toThrow(ConfigurationError);
    expect(() => powerShellDocument('# param: A | a | (required) | ^a$\nexit 0', { name: 'x', description: 'd', timeoutSeconds: 60 })).not.toThrow();
  });

  it('"(required)" in the default field means no default', () => {
    expect(parseParams('# param: A | a | (required) | ^a$')).toEqual({ A: { type: 'String', description: 'a', allowedPattern: '^a$', interpolationType: 'ENV_VAR' } });
  });
});
