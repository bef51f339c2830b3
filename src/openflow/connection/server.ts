/**
 * The OpenFlow listener: accepts switches (TCP, or TLS when a certificate and key are given),
 * runs one OfConnection each, and keeps one live connection per datapath id.
 *
 * Reconnects: a switch that reconnects (its old TCP connection may still look open to us, e.g.
 * after a crash or a NAT timeout) is recognised by its dpid at FEATURES_REPLY. The older
 * connection is closed right then, which reports it down; the new one is reported up only when
 * its handshake completes. So a dpid never has two live channels, and "down" precedes "up".
 */
import { EventEmitter } from 'node:events';
import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { ScoreError } from '../../errors/errors.ts';
import type { OfMessage } from '../messages.ts';
import { type ConnectionTimers, OfConnection, formatDpidHex } from './connection.ts';
import { type OfLog, silentLog } from './log.ts';
import { isSwitchPort } from './translate.ts';

export const DEFAULT_OPENFLOW_PORT = 6653;

/**
 * A dpid whose connection is replaced this often within DPID_FLAP_WINDOW_MS is reported as
 * shared by two switches (OF_DPID_CONFLICT): one switch reconnecting replaces its old connection
 * once; two switches with one datapath id replace each other on every reconnect, for ever.
 */
export const DPID_FLAP_REPLACEMENTS = 3;
export const DPID_FLAP_WINDOW_MS = 60_000;

export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA for switch certificates; with it, switches must present one */
  readonly ca?: string | Buffer;
}

export interface OfServerOptions extends Partial<ConnectionTimers> {
  /** default 6653; 0 picks a free port (see address()) */
  readonly port?: number;
  readonly host?: string;
  readonly tls?: TlsOptions;
  readonly log?: OfLog;
}

export interface OfServerEvents {
  'switch-up': [OfConnection];
  'switch-down': [OfConnection, ScoreError];
  message: [OfConnection, OfMessage];
}

export class OfServer extends EventEmitter<OfServerEvents> {
  private readonly server: Server;
  private readonly log: OfLog;
  /** every accepted connection, in any state */
  readonly connections = new Set<OfConnection>();
  /** the connection that holds each dpid (handshaking or ready) */
  private readonly claims = new Map<bigint, OfConnection>();
  /** ready connections, one per dpid */
  readonly switches = new Map<bigint, OfConnection>();
  /** per dpid: when its recent replacements were, from which remotes, and when a conflict was last said */
  private readonly replacements = new Map<bigint, { at: number[]; remotes: string[]; saidAt: number }>();
  private listening = false;

  constructor(private readonly options: OfServerOptions = {}) {
    super();
    this.log = options.log ?? silentLog;
    const accept = (socket: Socket): void => this.accept(socket);
    if (options.tls !== undefined) {
      const { cert, key, ca } = options.tls;
      let tls;
      try {
        tls = createTlsServer({ cert, key, ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }) }, accept);
      } catch (e) {
        // a PEM that does not parse, a key that does not match its certificate, a bad CA
        const why = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e);
        throw new ScoreError('TLS_INVALID', `cannot use the TLS certificate/key/CA for the OpenFlow listener: ${why}`, { errno: why }, { cause: e });
      }
      tls.on('tlsClientError', (e, s) => this.log('warn', `TLS handshake with ${s.remoteAddress ?? '?'} failed: ${e.message}`));
      this.server = tls;
    } else {
      this.server = createServer(accept);
    }
    this.server.on('error', (e) => this.log('error', `OpenFlow listener error: ${e.message}`));
  }

  /** @throws ScoreError LISTEN_FAILED when the address cannot be bound (in use, not local, no permission) */
  listen(): Promise<{ port: number; host: string }> {
    const port = this.options.port ?? DEFAULT_OPENFLOW_PORT;
    const host = this.options.host ?? '0.0.0.0';
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(new ScoreError('LISTEN_FAILED', `cannot listen for switches on ${host}:${port}: ${e.code ?? e.message}`, { host, port, errno: e.code }, { cause: e }));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.listening = true;
        const a = this.address();
        this.log('info', `listening for OpenFlow 1.3 switches on ${host}:${a.port}${this.options.tls ? ' (TLS)' : ''}`);
        resolve({ port: a.port, host });
      });
    });
  }

  address(): { port: number } {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new ScoreError('INTERNAL', 'the OpenFlow server is not listening', {});
    return { port: a.port };
  }

  /** Stops accepting, closes every switch (each reported down) and waits for the listener to close. */
  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close(new ScoreError('OF_DISCONNECTED', 'controller shutting down', {}));
    if (!this.listening) return;
    this.listening = false;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const conn = new OfConnection(socket, { ...this.options, log: this.log, onDpid: (c, dpid) => this.claim(c, dpid) });
    this.connections.add(conn);
    conn.on('ready', () => {
      const dpid = conn.dpid as bigint;
      this.switches.set(dpid, conn);
      const ports = [...conn.ports.keys()].filter(isSwitchPort).length;
      this.log('info', `switch ${formatDpidHex(dpid)} connected from ${conn.remote}: ${ports} ports (${conn.features?.nTables ?? '?'} tables)`);
      this.emit('switch-up', conn);
    });
    conn.on('message', (m) => this.emit('message', conn, m));
    conn.on('close', (reason, wasReady) => {
      this.connections.delete(conn);
      if (conn.dpid === undefined) return;
      if (this.claims.get(conn.dpid) === conn) this.claims.delete(conn.dpid);
      if (wasReady && this.switches.get(conn.dpid) === conn) {
        this.switches.delete(conn.dpid);
        this.emit('switch-down', conn, reason);
      }
    });
  }

  private claim(conn: OfConnection, dpid: bigint): void {
    const old = this.claims.get(dpid);
    this.claims.set(dpid, conn);
    if (old === undefined || old === conn) return;
    this.log('info', `switch ${formatDpidHex(dpid)} reconnected from ${conn.remote}; closing its older connection from ${old.remote}`);
    this.noteReplacement(dpid, old.remote, conn.remote);
    old.close(new ScoreError('OF_DISCONNECTED', `replaced by a newer connection of the same switch from ${conn.remote}`, { dpid: formatDpidHex(dpid) }));
  }

  /** Counts a replacement; says OF_DPID_CONFLICT (at most once a window per dpid) when they come too often. */
  private noteReplacement(dpid: bigint, oldRemote: string, newRemote: string): void {
    const now = Date.now();
    let r = this.replacements.get(dpid);
    if (r === undefined) this.replacements.set(dpid, (r = { at: [], remotes: [], saidAt: Number.NEGATIVE_INFINITY }));
    r.at.push(now);
    r.remotes.push(oldRemote, newRemote);
    while (r.at.length > DPID_FLAP_REPLACEMENTS) r.at.shift();
    while (r.remotes.length > 2 * DPID_FLAP_REPLACEMENTS) r.remotes.shift();
    if (r.at.length < DPID_FLAP_REPLACEMENTS || now - r.at[0]! > DPID_FLAP_WINDOW_MS || now - r.saidAt < DPID_FLAP_WINDOW_MS) return;
    r.saidAt = now;
    const remotes = [...new Set(r.remotes)].join(', ');
    this.log(
      'warn',
      `OF_DPID_CONFLICT: switch ${formatDpidHex(dpid)} connected ${DPID_FLAP_REPLACEMENTS} times in ${Math.round((now - r.at[0]!) / 1000)} s, each connection replacing the one before (from ${remotes}): two switches may share this datapath id, and each one's connection closes the other's (Open vSwitch: ovs-vsctl get bridge BR datapath-id; set other-config:datapath-id to tell them apart)`,
      { dpid: formatDpidHex(dpid), remotes },
    );
  }
}
