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
import type { ApiTokens, NorthEvent } from '../api/contract.ts';
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

function token(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.startsWith('Bearer ')) return h.slice(7);
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}

function lastEventId(req: FastifyRequest): bigint | undefined {
  const raw = req.headers['last-event-id'] ?? (req.query as Record<string, unknown> | undefined)?.lastEventId;
  if (typeof raw !== 'string' || !/^\d{1,19}$/.test(raw)) return undefined;
  return BigInt(raw);
}

export function installClusterEvents(api: FastifyInstance, h: ClusterHandle, tokens: ApiTokens, heartbeatMs = 15_000): void {
  const key = `${h.member.prefix}state/${EVENTS_KEY}`;
  api.get('/api/v1/cluster/events', { schema: { hide: true }, exposeHeadRoute: false }, async (req: FastifyRequest, reply: FastifyReply) => {
    const t = token(req);
    if (t === undefined || (t !== tokens.operator && t !== tokens.agent)) {
      return reply.code(401).send(errorPayload('API_UNAUTHORIZED', 'a valid agent or operator token is required'));
    }
    const client = h.member.client;
    let from: bigint;
    const after = lastEventId(req);
    try {
      from = after !== undefined ? after + 1n : BigInt((await client.get(key).exec()).header.revision) + 1n;
    } catch (e) {
      return reply.code(503).send(errorPayload('CLUSTER_UNAVAILABLE', `etcd: ${e instanceof Error ? e.message : String(e)}`));
    }
    let watcher;
    try {
      watcher = await client.watch().key(key).startRevision(from.toString()).create();
    } catch (e) {
      return reply.code(503).send(errorPayload('CLUSTER_UNAVAILABLE', `etcd watch: ${e instanceof Error ? e.message : String(e)}`));
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
    res.once('close', () => {
      clearInterval(beat);
      void w.cancel().catch(() => undefined);
    });
  });
}
