/**
 * Human renderings of what the backends return. JSON output does not come through here: it is
 * the backend's data as is (dates as ISO strings).
 */
import type { ExecutionDetail, ExecutionStatus, ExecutionSummary, InstanceStatus } from './backend';
import { absolute, clock, duration, oneLine, relative, table, when, type Style } from './format';
import type { Timeline, TimelineStep } from './timeline';

export function statusText(status: ExecutionStatus, style: Style): string {
  switch (status) {
    case 'SUCCEEDED':
      return style.green(status);
    case 'FAILED':
    case 'TIMED_OUT':
    case 'ABORTED':
      return style.red(status);
    case 'RUNNING':
    case 'PENDING_REDRIVE':
      return style.yellow(status);
    default:
      return status;
  }
}

const elapsed = (e: ExecutionSummary, now: Date): number => (e.stopDate ?? now).getTime() - e.startDate.getTime();

export function executionsTable(items: ExecutionSummary[], now: Date, style: Style): string {
  if (items.length === 0) return style.dim('No executions match.');
  const rows = items.map((e) => [
    e.name,
    e.workflow,
    e.instanceId ?? '-',
    statusText(e.status, style) + (e.redriveCount ? style.dim(` (redriven ×${e.redriveCount})`) : ''),
    `${absolute(e.startDate)} ${style.dim(`(${relative(e.startDate, now)})`)}`,
    duration(elapsed(e, now)) + (e.stopDate ? '' : style.dim('…')),
    e.failedState ? style.red(e.failedState) + (e.error ? style.dim(` ${e.error}`) : '') : '',
  ]);
  return table(['NAME', 'WORKFLOW', 'INSTANCE', 'STATUS', 'STARTED', 'DURATION', 'FAILED STATE'], rows, style);
}

function stepRow(s: TimelineStep, style: Style): string[] {
  const mark = s.failed ? style.red('✗') : s.caught ? style.yellow('↷') : s.end === undefined ? style.yellow('…') : style.green('✓');
  const visits = s.visits > 1 ? style.dim(` ×${s.visits}`) : '';
  const retried = Object.entries(s.retried)
    .map(([name, n]) => `${name}×${n}`)
    .join(', ');
  const retries = s.retries > 0 ? `${s.retries}${retried ? style.dim(` (${retried})`) : ''}` : '';
  const error = s.error ? (s.failed ? style.red(s.error) : style.yellow(`${s.error} (caught)`)) : '';
  return [mark, (s.failed ? style.bold(s.name) : s.name) + visits, clock(s.start), duration(s.durationMs), retries, error];
}

export interface ShowOptions {
  io: boolean;
  now: Date;
  /** The execution is the lab's: the redrive hint must say `--local` too. */
  local?: boolean;
}

export function showExecution(e: ExecutionDetail, t: Timeline, opts: ShowOptions, style: Style): string {
  const out: string[] = [];
  out.push(`${style.bold(e.name)}  ${statusText(e.status, style)}`);
  out.push(`  workflow  ${e.workflow}${e.instanceId ? `   instance  ${e.instanceId}` : ''}`);
  out.push(`  started   ${when(e.startDate, opts.now)}`);
  if (e.stopDate) out.push(`  stopped   ${when(e.stopDate, opts.now)}   took ${duration(e.stopDate.getTime() - e.startDate.getTime())}`);
  if (e.redriveCount) out.push(`  redriven  ${e.redriveCount}×${e.redriveDate ? `, last ${when(e.redriveDate, opts.now)}` : ''}`);
  out.push(`  id        ${style.dim(e.id)}`);
  out.push('');

  const rounds = [...new Set(t.steps.map((s) => s.round))];
  const header = ['', 'STATE', 'START', 'TIME', 'RETRIES', 'ERROR'];
  for (const round of rounds.length > 0 ? rounds : [0]) {
    if (round > 0) {
      const at = t.redrives.find((r) => r.round === round)?.at;
      out.push(style.cyan(`── redrive ${round}${at ? ` at ${absolute(at)}` : ''} ──`));
    }
    const steps = t.steps.filter((s) => s.round === round);
    if (steps.length === 0) continue;
    out.push(table(header, steps.map((s) => stepRow(s, style)), style));
    for (const s of steps) {
      if (s.cause && (s.failed || s.caught)) out.push(`  ${style.dim(`${s.name}: cause:`)} ${oneLine(s.cause, 600)}`);
      if (opts.io) {
        if (s.input !== undefined) out.push(`  ${style.dim(`${s.name}: input: `)}${oneLine(s.input, 2000)}`);
        if (s.output !== undefined) out.push(`  ${style.dim(`${s.name}: output:`)} ${oneLine(s.output, 2000)}`);
      }
    }
    out.push('');
  }

  const ended = e.status === 'FAILED' || e.status === 'TIMED_OUT' || e.status === 'ABORTED';
  if (ended) {
    out.push(`${style.red('Failed in')} ${style.bold(t.failedState ?? e.failedState ?? '?')}: ${e.error ?? t.end?.error ?? ''}`);
    const cause = e.cause ?? t.end?.cause;
    if (cause) out.push(`  ${oneLine(cause, 1000)}`);
    out.push(style.dim(`  Fix the cause, then: adjoin${opts.local ? ' --local' : ''} redrive ${e.name}`));
    out.push('');
  }

  const s = t.summary;
  const done: string[] = [];
  if (s.outcome) done.push(`outcome       ${s.outcome}${s.reason ? ` — ${s.reason}` : ''}`);
  if (s.computerName) done.push(`computer      ${s.computerName}${s.computerAction ? ` (${s.computerAction})` : ''}`);
  if (s.computerDn) done.push(`object        ${s.computerDn}`);
  if (s.commandIds.length > 0) done.push(`commands      ${s.commandIds.join(', ')}`);
  if (s.deleted.length > 0) done.push(`deleted       ${s.deleted.join(', ')}`);
  if (s.counts) done.push(`counts        ${Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (done.length > 0) {
    out.push(style.bold('Summary'));
    out.push(...done.map((l) => `  ${l}`));
  }
  if (opts.io) {
    if (e.input !== undefined) out.push(`${style.dim('input: ')} ${JSON.stringify(e.input)}`);
    if (e.output !== undefined) out.push(`${style.dim('output:')} ${JSON.stringify(e.output)}`);
  }
  return out.join('\n').replace(/\n+$/, '');
}

export function instanceStatusText(s: InstanceStatus, now: Date, style: Style): string {
  const out: string[] = [];
  if (!s.found) {
    out.push(`${style.bold(s.instanceId)}  ${style.yellow('not found')} (no such instance, or terminated long ago)`);
  } else {
    out.push(`${style.bold(s.instanceId)}  ${s.state ?? '?'}${s.platform ? `  ${s.platform}` : ''}`);
    if (s.privateDnsName) out.push(`  dns       ${s.privateDnsName}`);
    if (s.launchTime) out.push(`  launched  ${when(s.launchTime, now)}`);
  }
  const ours = Object.entries(s.statusTags);
  out.push(`  status tags (${s.statusPrefix}*)${ours.length === 0 ? ': none' : ''}`);
  for (const [k, v] of ours) out.push(`    ${k} = ${v}`);
  const others = Object.entries(s.tags).filter(([k]) => !k.startsWith(s.statusPrefix));
  if (others.length > 0) out.push(`  other tags  ${others.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (s.computers !== undefined) {
    out.push(`  computer objects${s.computers.length === 0 ? ': none' : ''}`);
    for (const c of s.computers) {
      out.push(`    ${c.name}  ${c.dn}`);
      if (c.marker) out.push(`      marker ${c.marker}`);
    }
  }
  out.push('');
  out.push(s.executions.length === 0 ? style.dim('No executions for this instance.') : executionsTable(s.executions, now, style));
  return out.join('\n');
}
