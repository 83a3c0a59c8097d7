import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

describe('infra/app.ts', () => {
  it('a bad configuration stops the synthesis and names every bad key', () => {
    const bad = { directory: { kind: 'nope', domain: 'corp.example.com' }, network: { vpcId: 'vpc-1' }, timings: { settleSeconds: 'soon' } };
    const out = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['infra/app.ts'], {
      cwd: root,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ 'adjoin:config': bad }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.status).toBe(1);
    for (const key of ['directory.kind', 'directory.netbiosName', 'directory.domainControllers', 'directory.serviceAccountSecret', 'network.vpcId', 'network.subnetIds', 'network.securityGroupIds', 'timings.settleSeconds']) {
      expect(out.stderr).toContain(`  - ${key}: `);
    }
  });
});
