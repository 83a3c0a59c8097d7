/**
 * The doctor's network Probe over node:dns, node:net and node:tls: resolve a DC's name, connect
 * to its LDAPS port, and complete a TLS handshake verified exactly as the LDAP adapter verifies
 * it (the same tlsOptions: configured CA, tlsServerName). `guard` runs before any socket is
 * opened (the lab refuses every address outside its namespaces).
 */
import { promises as dns } from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Probe, TlsOutcome } from '../lib/doctor';
import { hostPort } from '../lib/doctor';

export interface NetProbeOptions {
  /** TLS options for an ldaps:// URL (LdapDirectory.clientOptions(url).tlsOptions). */
  tlsOptions: (url: string) => Promise<tls.ConnectionOptions>;
  /** Default: the system resolver (the VPC's, in Lambda). */
  resolve?: (name: string) => Promise<string[]>;
  /** Throws to refuse a host before connecting. */
  guard?: (host: string) => void;
}

export class NetProbe implements Probe {
  constructor(private readonly options: NetProbeOptions) {}

  async resolve(name: string): Promise<string[]> {
    if (this.options.resolve) return this.options.resolve(name);
    return (await dns.lookup(name, { all: true })).map((a) => a.address);
  }

  async connect(host: string, port: number, timeoutMs: number): Promise<void> {
    this.options.guard?.(host);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const done = (err?: Error): void => {
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      socket.setTimeout(timeoutMs, () => done(Object.assign(new Error(`TCP connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })));
      socket.once('connect', () => done());
      socket.once('error', (err) => done(err));
    });
  }

  async tls(url: string, timeoutMs: number): Promise<TlsOutcome> {
    const { host, port } = hostPort(url);
    this.options.guard?.(host);
    const base = await this.options.tlsOptions(url);
    return new Promise((resolve, reject) => {
      // Verify by hand after the handshake, so a failure still shows the certificate we were given.
      const socket = tls.connect({ ...base, host, port, rejectUnauthorized: false });
      socket.setTimeout(timeoutMs, () => {
        socket.destroy();
        reject(Object.assign(new Error(`TLS handshake with ${host}:${port} timed out`), { code: 'ETIMEDOUT' }));
      });
      socket.once('error', (err: Error) => {
        socket.destroy();
        reject(err);
      });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate();
        const present = cert && Object.keys(cert).length > 0;
        let code: string | undefined;
        let message: string | undefined;
        if (!socket.authorized) {
          const e = socket.authorizationError as unknown as Error | string | null;
          code = typeof e === 'string' ? e : ((e as { code?: string } | null)?.code ?? e?.message);
          message = typeof e === 'string' ? e : e?.message;
        } else if (present) {
          const name = base.servername ?? host;
          const err = tls.checkServerIdentity(name, cert);
          if (err) {
            code = (err as { code?: string }).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
            message = err.message;
          }
        }
        socket.destroy();
        const subject = present ? (Array.isArray(cert.subject?.CN) ? cert.subject.CN.join(',') : cert.subject?.CN) : undefined;
        resolve({
          authorized: code === undefined && present,
          ...(code !== undefined ? { code } : {}),
          ...(message !== undefined ? { message } : {}),
          ...(subject ? { subject } : {}),
          ...(present && cert.subjectaltname ? { altNames: cert.subjectaltname } : {}),
          ...(present && cert.valid_to ? { validTo: new Date(cert.valid_to) } : {}),
        });
      });
    });
  }
}
