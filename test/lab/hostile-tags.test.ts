/**
 * A hostile tag value (an LDAP filter or shell metacharacters in the login-group tag) is refused
 * before any side effect: the real synthesized join machine, the real tasks and the lab's ports
 * (real LDAPS to the Samba DC, the LabFleet that would run the real join document). The
 * directory is read back with ldapsearch inside the DC, not through the product's code.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as world from '../../lab/world';
import { LabFleet, labDepsProvider, labSettings } from '../../lab/world/fleet';
import { ExecutionStore } from '../../engine';
import { makeLabRuntime } from '../../cli/lab-runtime';
import { ec2StateEvent } from '../../cli/ec2-event';
import { computerNameCandidates } from '../../tasks/lib/naming';
import { ensureLab } from './helpers';

const HOSTILE = [
  'linux-admins)(objectClass=*',
  '*)(|(cn=*',
  'admins; rm -rf / #',
  'admins$(touch /tmp/pwned)',
  "admins' || true '",
];

let restore: () => Promise<void>;
let storeDir: string;

beforeAll(async () => {
  ({ restore } = await ensureLab());
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-hostile-'));
});

afterAll(async () => {
  fs.rmSync(storeDir, { recursive: true, force: true });
  await restore();
});

describe.each(HOSTILE)('login-group tag %j', (value) => {
  it('fails at "Read instance" with InvalidInput, and nothing is created, tagged or sent', async () => {
    // Prepare
    const fleet = new LabFleet({ documentNames: { join: 'adjoin-join', verify: 'adjoin-verify' } });
    const settings = labSettings({ customize: (s) => void (s.timings.settleSeconds = 0) });
    const runtime = makeLabRuntime({ store: new ExecutionStore(storeDir), settings, deps: labDepsProvider({ fleet }) });
    const instance = await world.launch({ tags: { 'Domain:Join': 'true', adGroupName: value } });
    const tagsBefore = { ...instance.tags };
    const event = ec2StateEvent({ instanceId: instance.instanceId, state: 'running', account: world.LAB_ACCOUNT, region: world.LAB_REGION });
    try {
      // Act
      const record = await runtime.start('join', event, `join-hostile-${instance.instanceId}-${Date.now()}`);

      // Assess: failed at the first state, naming the tag, with no side effect.
      expect(record.status).toBe('FAILED');
      expect(record.failedState).toBe('Read instance');
      expect(record.error).toBe('InvalidInput');
      expect(record.cause).toMatch(/adGroupName/);
      expect(fleet.listCommands(instance.instanceId)).toHaveLength(0);
      const after = (await world.status()).instances.find((i) => i.instanceId === instance.instanceId);
      expect(after?.tags).toEqual(tagsBefore);
      const d = world.labState().domain;
      for (const name of computerNameCandidates(instance.instanceId, '')) {
        const found = await world.dcLdapSearch(d.baseDn, `(sAMAccountName=${name}$)`, ['dn'], { asAdmin: true });
        expect(found.exitCode).toBe(0);
        expect(found.stdout).not.toMatch(/^dn: /m);
      }
      expect(fs.existsSync('/tmp/pwned')).toBe(false);
    } finally {
      await world.terminate(instance.instanceId);
    }
  });
});
