/**
 * NetProbe on loopback only: a real TCP listener, a closed port, and a real TLS server with a
 * certificate made here by openssl (its own CA), verified with and without the right CA and name.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { NetProbe } from '../../../../tasks/adapters/net-probe';

let dir: string;
let ca: string;
let server: tls.Server;
let port: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adjoin-netprobe-'));
  const sh = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test CA');
  sh('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'dc.key', '-out', 'dc.csr', '-subj', '/CN=dc1.corp.example.com');
  sh('x509', '-req', '-in', 'dc.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'dc.pem', '-days', '2');
  ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  server = tls.createServer({ key: fs.readFileSync(path.join(dir, 'dc.key')), cert: fs.readFileSync(path.join(dir, 'dc.pem')) }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const url = () => `ldaps://127.0.0.1:${port}`;

describe('NetProbe (loopback)', () => {
  it('connects to a listener; a closed port is ECONNREFUSED', async () => {
    const p = new NetProbe({ tlsOptions: () => Promise.resolve({}) });
    await expect(p.connect('127.0.0.1', port, 2000)).resolves.toBeUndefined();
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(p.connect('127.0.0.1', closedPort, 2000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('TLS verifies with the right CA and name, and says why not otherwise (showing the certificate)', async () => {
    const good = new NetProbe({ tlsOptions: () => Promise.resolve({ ca: [ca], servername: 'dc1.corp.example.com' }) });
    const ok = await good.tls(url(), 3000);
    expect(ok).toMatchObject({ authorized: true, subject: 'dc1.corp.example.com' });
    expect(ok.validTo?.getTime()).toBeGreaterThan(Date.now());

    const noCa = await new NetProbe({ tlsOptions: () => Promise.resolve({ servername: 'dc1.corp.example.com' }) }).tls(url(), 3000);
    expect(noCa).toMatchObject({ authorized: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', subject: 'dc1.corp.example.com' });

    const wrongName = await new NetProbe({ tlsOptions: () => Promise.resolve({ ca: [ca], servername: 'dc2.corp.example.com' }) }).tls(url(), 3000);
    expect(wrongName).toMatchObject({ authorized: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('the guard runs before any socket', async () => {
    const p = new NetProbe({
      tlsOptions: () => Promise.resolve({}),
      guard: (h) => {
        throw new Error(`refused ${h}`);
      },
    });
    await expect(p.connect('127.0.0.1', port, 1000).catch((e: Error) => e.message)).resolves.toBe('refused 127.0.0.1');
    await expect(p.tls(url(), 1000)).rejects.toThrow('refused 127.0.0.1');
  });
});
