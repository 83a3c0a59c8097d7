import * as fs from 'node:fs';
import * as path from 'node:path';
import { readmeWithDiagrams } from '../../scripts/docs';
import { toMermaid } from '../../scripts/diagram';
import { synthesizeDefinitions } from '../../infra/asl';

describe('README diagrams', () => {
  it('are exactly what the synthesized ASL gives (run `npm run docs` after changing a workflow)', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readmeWithDiagrams(readme)).toBe(readme);
  });

  it('draw every state, the failure routes and the non-default retries', () => {
    const { join } = synthesizeDefinitions();
    const chart = toMermaid(join as never);
    for (const state of Object.keys((join as { States: Record<string, unknown> }).States)) {
      expect(chart).toContain(`"${state}`);
    }
    expect(chart).toMatch(/-\.->\|InstanceGone\|/);
    expect(chart).toContain('retries SsmAgentNotOnline');
    expect(chart).not.toContain('retries DirectoryUnavailable');
  });
});
