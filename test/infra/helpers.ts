/**
 * Shared by the infra tests: build the app from a configuration (no esbuild bundling), run
 * cdk-nag AwsSolutions over every stack, and a valid base configuration to vary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveConfig, type AdjoinConfigInput, type ResolvedConfig } from '../../infra/config';
import { ConfigurationError } from '../../tasks/lib/errors';
import { createStacks, type AdjoinMemberStack, type AdjoinStack } from '../../infra/stacks';

export const InfraDir = path.join(__dirname, '..', '..', 'infra');

/** The sample configuration (infra/sample-config.json), parsed. */
export function sampleInput(): AdjoinConfigInput {
  return JSON.parse(fs.readFileSync(path.join(InfraDir, 'sample-config.json'), 'utf8')) as AdjoinConfigInput;
}

export function sampleConfig(change: (c: AdjoinConfigInput) => void = () => undefined): ResolvedConfig {
  const input = sampleInput();
  change(input);
  return resolveConfig(input, { baseDir: InfraDir });
}

/** The problems a bad configuration reports (fails the test if it does not throw ConfigurationError). */
export function problemsOf(change: (c: AdjoinConfigInput & Record<string, unknown>) => void): string[] {
  const input = sampleInput() as AdjoinConfigInput & Record<string, unknown>;
  change(input);
  try {
    resolveConfig(input, { baseDir: InfraDir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

export interface Built {
  app: App;
  orchestrator: AdjoinStack;
  members: AdjoinMemberStack[];
  template: Template;
}

export function build(config: ResolvedConfig = sampleConfig()): Built {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { orchestrator, members } = createStacks(app, config);
  return { app, orchestrator, members, template: Template.fromStack(orchestrator) };
}

/** Every unacknowledged cdk-nag AwsSolutions finding in a stack, as "rule at path" lines. */
export function nagFindings(stack: Stack): string[] {
  // cdk-nag's EventBusOpenAccess rule reads a deprecated property; that warning is not ours.
  process.env.JSII_DEPRECATED = 'quiet';
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`));
}
