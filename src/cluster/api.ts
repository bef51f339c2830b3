/**
 * One address for clients: any controller of the cluster serves the API.
 *
 * - `GET /api/v1/cluster` (agent or operator token): this member's role, the leader (id, API
 *   URL, generation), failovers seen, this controller's role on each connected switch, and the
 *   leader's last published view (what a standby knows).
 * - `GET /api/v1/cluster/ready` (agent or operator token, forwarded to the leader): whether the
 *   leader can re-route a VM now (readiness.ts); agents wait for it before a switch-over.
 * - On a follower, every write (POST/PUT/PATCH/DELETE under /api/v1) is proxied to the leader
 *   with the caller's Authorization header, and the leader's answer (status, body) is returned
 *   with `x-score-proxied-to: <leader id>`. Proxy, not a 307: fetch drops Authorization when a
 *   redirect crosses origins, so agents would arrive at the leader without their token.
 *   No leader known (an election under way): 503 CLUSTER_NOT_LEADER, retry shortly.
 * - `GET /api/v1/cluster/events`: the leader's events from etcd, resumable on any member with
 *   Last-Event-ID (src/cluster/events.ts).
 * - Reads of what only the leader knows (its network view, costs, migrations, orchestration:
 *   LEADER_READS) are proxied to the leader the same way, so an agent or operator pointed at a
 *   standby gets the leader's answers (Algorithm 1's inputs among them). With no leader known
 *   they are answered from the member's own state (a standby has no network view) with
 *   `x-score-answered-by: <member id>`. Other reads (/cluster, /health, /events, /metrics,
 *   credentials) are always the member's own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialStore } from '../api/credential-store.ts';
import { errorPayload } from '../api/http-errors.ts';
import type { ClusterHandle } from './attach.ts';
import { installClusterEvents } from './events.ts';
import type { Readiness } from './readiness.ts';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** GET routes under /api/v1 whose answer is the leader's state (the path, without the query). */
const LEADER_READS = /^\/api\/v1\/(cluster\/ready|topology|hosts|hypervisors|vms\/[^/]+\/(traffic|peers)|weights(\/.*)?|paths\/(cost|matrix)|cost(\/history)?|migrations|orchestration)$/;

/** Whether a follower forwards this request to the leader. */
export function forwardsToLeader(method: string, url: string): boolean {
  if (!url.startsWith('/api/v1/')) return false;
  if (WRITES.has(method)) return true;
  return method === 'GET' && LEADER_READS.test(url.split('?')[0] ?? '');
}

export function installClusterApi(api: FastifyInstance, h: ClusterHandle, o: { credentials: CredentialStore; ready?: () => Readiness | undefined }): void {
  installClusterEvents(api, h, o);
  // forwarded to the leader (LEADER_READS); answered here by the leader, or by a member that
  // knows no leader (then not ready). An agent waits for it before switching a VM over.
  api.get('/api/v1/cluster/ready', { config: { access: 'agent' }, schema: { hide: true } }, () => {
    return o.ready?.() ?? { ready: false, member: h.member.id, reason: `${h.member.id} has not joined the cluster yet` };
  });
  // the API's own authentication (src/api/server.ts): operator token or an agent credential
  api.get('/api/v1/cluster', { config: { access: 'agent' }, schema: { hide: true } }, async () => {
    const m = h.member;
    let leaderView: unknown;
    try {
      leaderView = await h.leaderView();
    } catch {
      leaderView = null;
    }
    return {
      id: m.id,
      role: m.role,
      generation: m.generation?.toString() ?? null,
      leader: m.leader === undefined ? null : { id: m.leader.id, apiUrl: m.leader.apiUrl ?? null, generation: m.leader.generation.toString() },
      failovers: m.failovers,
      switches: h.plane.switchesView(),
      leaderView: leaderView ?? null,
    };
  });

  api.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!forwardsToLeader(req.method, req.url)) return;
    const m = h.member;
    if (m.role === 'leader') return;
    const leader = m.leader;
    if (!WRITES.has(req.method) && (leader === undefined || leader.id === m.id || leader.apiUrl === undefined || req.headers['x-score-proxied-from'] !== undefined)) {
      // a read with no leader to ask: this member's own (possibly empty) state, said so
      void reply.header('x-score-answered-by', m.id);
      return;
    }
    // A request another member already forwarded is not forwarded again: two members that each
    // think the other leads (or a leader that advertises an address that reaches a follower) would
    // otherwise pass it around until every hop timed out.
    if (req.headers['x-score-proxied-from'] !== undefined) {
      return reply.code(503).send(errorPayload('CLUSTER_NOT_LEADER', `this controller (${m.id}) is not the leader either; forwarded by ${String(req.headers['x-score-proxied-from'])}: retry shortly`, { role: m.role }));
    }
    if (leader === undefined || leader.id === m.id || leader.apiUrl === undefined) {
      return reply.code(503).send(errorPayload('CLUSTER_NOT_LEADER', `this controller (${m.id}) is not the leader and no leader is known yet: retry shortly`, { role: m.role }));
    }
    const headers: Record<string, string> = {};
    if (typeof req.headers.authorization === 'string') headers.authorization = req.headers.authorization;
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    headers['x-score-proxied-from'] = m.id;
    let res: Response;
    try {
      res = await fetch(`${leader.apiUrl}${req.url}`, {
        method: req.method,
        headers,
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      return reply.code(503).send(errorPayload('CLUSTER_UNAVAILABLE', `the leader ${leader.id} at ${leader.apiUrl} did not answer: ${e instanceof Error ? e.message : String(e)}`, { leader: leader.id }));
    }
    const text = await res.text();
    return reply
      .code(res.status)
      .header('content-type', res.headers.get('content-type') ?? 'application/json')
      .header('x-score-proxied-to', leader.id)
      .send(text);
  });
}
