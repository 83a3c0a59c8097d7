/**
 * `adjoin directory-info --directory-id d-…`: reads an AWS Managed Microsoft AD from Directory
 * Service (DescribeDirectories, the adapter the tasks use) and prints the `directory` block to pin
 * in the configuration: domain, NetBIOS name and the DC IPs. Pinned DCs are not looked up at run
 * time (and the task roles get no Directory Service permission). The name on each DC's LDAPS
 * certificate is in no API: the block carries a placeholder that synth refuses until it is
 * replaced; stderr says where to find the names, or how to leave the DCs to the run-time look-up.
 * A directory that is unknown, not Active or not MicrosoftAD fails (exit 3 / 1) with the reason.
 */
import type { Command } from 'commander';
import { directoryFactsProblem, pinnedDirectoryBlock } from '../tasks/lib/directory-lookup';
import type { DirectoryService } from '../tasks/lib/ports';
import { Exit, failed, notFound, usage, type ExitCode } from './exit';

export interface DirectoryInfoDeps {
  io: { out(t: string): void; err(t: string): void };
  /** Directory Service in the --region / --profile of the command line. */
  directoryService(cmd: Command): DirectoryService;
  setExit(code: ExitCode): void;
}

const DIRECTORY_ID = /^d-[0-9a-f]{10}$/;

export function addDirectoryInfoCommand(program: Command, deps: DirectoryInfoDeps): void {
  program
    .command('directory-info')
    .description('Print the directory block to pin in the configuration (domain, NetBIOS name, DC IPs) of an AWS Managed Microsoft AD, read from Directory Service.')
    .requiredOption('--directory-id <id>', 'the directory (d- and 10 hex digits)')
    .addHelpText('after', '\nExamples:\n  $ adjoin directory-info --directory-id d-1234567890 --region eu-west-1\n')
    .action(async (opts: { directoryId: string }, cmd: Command) => {
      if (!DIRECTORY_ID.test(opts.directoryId)) throw usage(`--directory-id: not a directory ID: ${JSON.stringify(opts.directoryId)}`, 'Directory IDs are d- and 10 hex digits (`aws ds describe-directories`).');
      const facts = await deps.directoryService(cmd).describe(opts.directoryId);
      const problem = directoryFactsProblem(facts, opts.directoryId);
      if (!facts) throw notFound(problem ?? `No directory ${opts.directoryId}.`);
      if (problem) throw failed(problem);
      deps.io.out(JSON.stringify(pinnedDirectoryBlock(facts), null, 2));
      deps.io.err(
        [
          `${facts.directoryId}: ${facts.name} (${facts.shortName ?? '?'}), ${facts.dnsIpAddrs.length} domain controller(s)${facts.vpcId ? ` in ${facts.vpcId}` : ''}.`,
          'Merge this into your configuration\'s "directory" and replace each hostName with the name on that DC\'s LDAPS certificate',
          '(PowerShell on a domain-joined host: Get-ADDomainController -Filter * | Select HostName,IPv4Address); synth refuses the placeholders.',
          'Or leave "domainControllers" out and set "directoryId" and "tlsServerName": the tasks then read the DC IPs at cold start.',
        ].join('\n'),
      );
      deps.setExit(Exit.ok);
    });
}
