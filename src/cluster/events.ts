/**
 * Northbound events that survive a failover: the leader appends every service event to one etcd
 * key (`<prefix>state/events/stream`, fenced like every store write); each put gets a new etcd
 * revision, which is the event's SSE id. `GET /api/v1/cluster/events` on ANY member streams them
 * from an etcd watch; a client that reconnects (to any member, after any failover) with
 * `Last-Event-ID: <id>` gets every event after that id, once, in order, because the watch replays
 * from revision id + 1 and revisions only grow across leaders. Replay reaches back until etcd
 * compacts its history (no automatic compaction unless etcd is configured for it).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NorthEvent } from '../api/contract.ts';
import type { CredentialStore } from '../api/credential-store.ts';
import { errorPayload } from '../api/http-errors.ts';
import type { OfLog } from '../openflow/connection/index.ts';
import type { ClusterHandle } from './attach.ts';

export const EVENTS_KEY = 'events/stream';

/**
 * While this member leads, every service event is written to the stream key, one at a time so
 * revisions follow the service's order. Not leading: nothing is written (the store would refuse).
 * @returns unsubscribe
 */
export function publishEvents(h: ClusterHandle, service: { subscribe(listener: (e: NorthEvent) => void): () => void }, log: OfLog): () => void {
  let chain: Promise<void> = Promise.resolve();
  return service.subscribe((e) => {
    if (h.member.role !== 'leader') return;
    chain = chain
      .then(() => h.store.put(EVENTS_KEY, e))
      .catch((err: unknown) => log('warn', `cluster: event not published: ${err instanceof Error ? err.message : String(err)}`));
  });
}

function lastEventId(req: FastifyRequest): bigint | undefined {
  const raw = req.headers['last-event-id'] ?? (req.query as Record<string, unknown> | undefined)?.lastEventId;
  if (typeof raw !== 'string' || !/^\d{1,19}$/.test(raw)) return undefined;
  return BigInt(raw);
}

/**
 * Authentication is the API's own (src/api/server.ts: the route's `access`, header or `?token=`):
 * operator token or an agent credential, and in cluster mode the credentials are etcd's
 * (src/cluster/identity.ts). A stream opened with an agent credential ends when that credential
 * is revoked, on whichever member it was revoked, and when this member stops accepting agent
 * credentials (`credentials.available()` false: it may have missed a revocation), checked every
 * `sweepMs`, with an `error` event (CLUSTER_UNAVAILABLE) first.
 */
export function installClusterEvents(api: FastifyInstance, h: ClusterHandle, o: { credentials: CredentialStore; sweepMs?: number }, heartbeatMs = 15_000): void {
  const key = `${h.member.prefix}state/${EVENTS_KEY}`;
  // open streams by the id of the credential that opened them, with what ends them for loss of contact
  const streams = new Map<() => void, string>();
  const unavailable = new Map<() => void, () => void>();
  const unwatch = o.credentials.onRevoke((c) => {
    for (const [close, id] of [...streams]) if (id === c.id) close();
  });
  const sweep = setInterval(() => {
    if (o.credentials.available?.() !== false) return;
    for (const end of [...unavailable.values()]) end();
  }, o.sweepMs ?? 100);
  sweep.unref();
  api.addHook('preClose', (done) => {
    clearInterval(sweep);
    unwatch();
    for (const close of [...streams.keys()]) close();
    done();
  });
  api.get('/api/v1/cluster/events', { config: { access: 'agent', queryToken: true }, schema: { hide: true }, exposeHeadRoute: false }, async (req: FastifyRequest, reply: FastifyReply) => {
    const credential = req.principal?.role === 'agent' ? req.principal.credential : null;
    // a revocation while the watch is being set up (the awaits below) must still end this stream
    let revokedMeanwhile = false;
    const unwatchEarly = credential === null ? () => undefined : o.credentials.onRevoke((c) => {
      if (c.id === credential.id) revokedMeanwhile = true;
    });
    const client = h.member.client;
    let from: bigint;
    const after = lastEventId(req);
    let watcher;
    try {
      try {
        from = after !== undefined ? after + 1n : BigInt((await client.get(key).exec()).header.revision) + 1n;
      } catch (e) {
        return reply.code(503).send(errorPayload('CLUSTER_UNAVAILABLE', `etcd: ${e instanceof Error ? e.message : String(e)}`));
      }
      try {
        watcher = await client.watch().key(key).startRevision(from.toString()).create();
      } catch (e) {
        return reply.code(503).send(errorPayload('CLUSTER_UNAVAILABLE', `etcd watch: ${e instanceof Error ? e.message : String(e)}`));
      }
    } finally {
      unwatchEarly();
    }
    if (revokedMeanwhile && credential !== null) {
      await watcher.cancel().catch(() => undefined);
      return reply.code(401).send(errorPayload('CREDENTIAL_REVOKED', `credential ${credential.id} was revoked`, { credential: credential.id }));
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-score-member': h.member.id });
    res.write(': S-CORE cluster events\n\n');
    const beat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    beat.unref();
    watcher.on('put', (kv) => {
      const text = kv.value.toString();
      let type = 'event';
      try {
        const t = (JSON.parse(text) as { type?: unknown }).type;
        type = (typeof t === 'string' ? t : 'event').replace(/[\r\n]/g, '');
      } catch {
        return;
      }
      res.write(`id: ${kv.mod_revision}\nevent: ${type}\ndata: ${text}\n\n`);
    });
    watcher.on('error', (e) => {
      res.write(`event: error\ndata: ${JSON.stringify({ code: 'CLUSTER_UNAVAILABLE', message: e.message })}\n\n`);
      res.end();
    });
    const w = watcher;
    const close = (): void => {
      streams.delete(close);
      unavailable.delete(close);
      clearInterval(beat);
      void w.cancel().catch(() => undefined);
      res.end();
    };
    if (credential !== null) {
      streams.set(close, credential.id);
      unavailable.set(close, () => {
        res.write(`event: error\ndata: ${JSON.stringify({ code: 'CLUSTER_UNAVAILABLE', message: `this controller (${h.member.id}) may have missed a revocation: agent credentials are refused until it is back; reconnect, to another member if need be` })}\n\n`);
        close();
      });
    }
    res.once('close', close);
  });
}
