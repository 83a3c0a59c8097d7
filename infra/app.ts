/**
 * The CDK app (cdk.json runs it with tsx). Reads the configuration from context
 * (`adjoin:config` or `adjoin:configFile`), builds the orchestrator stack and one member stack
 * per member account, and checks everything with cdk-nag AwsSolutions: an unacknowledged
 * finding stops the synthesis. No look-ups: `cdk synth` works offline.
 */
import { App } from 'aws-cdk-lib';
import { ConfigurationError } from '../tasks/lib/errors';
import { configFromContext } from './config';
import { addNagChecks, createStacks } from './stacks';

const app = new App();
try {
  const config = configFromContext((key) => app.node.tryGetContext(key));
  createStacks(app, config);
} catch (err) {
  if (err instanceof ConfigurationError) {
    process.stderr.write(`adjoin: ${err.problems.length} configuration problem(s):\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  throw err;
}
addNagChecks(app);
app.synth();
