// One address for clients, against a REAL etcd (one member on loopback): a follower proxies
// writes to the leader (with the caller's token), reports the cluster, and after the leader
// resigns it answers writes itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemTestGate } from '../emulation/system-gate.ts';
import { startController, type RunningController } from '../cli/commands/controller.ts';
import { startEtcd } from './etcd-process.ts';
import { waitFor } from './cluster.testing.ts';

const gate = systemTestGate({ tools: ['etcd'] });
// The shared agent token (opted in, the same on every member) still works in a cluster; per-agent
// credentials in a cluster: src/cluster/identity.system.test.ts
const tokens = { operator: 'op-secret-1', agent: 'agent-secret-1' };

interface Sse {
  readonly id: bigint;
  readonly type: string;
  readonly data: { type: string; data: Record<string, unknown> };
}

/** Reads a cluster event stream until `enough` says so (or the timeout), then closes it. */
async function readEvents(url: string, headers: Record<string, string>, enough: (got: Sse[]) => boolean, ms = 15_000): Promise<Sse[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const got: Sse[] = [];
  try {
    const r = await fetch(url, { headers, signal: ac.signal });
    assert.equal(r.status, 200);
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let buf = '';
    while (!enough(got)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += new TextDecoder().decode(value);
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f = Object.fromEntries(frame.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
        if (f.id !== undefined) got.push({ id: BigInt(f.id), type: f.event ?? '', data: JSON.parse(f.data ?? '{}') as Sse['data'] });
      }
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return got;
}

async function call(base: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; proxied: string | null; json: unknown }> {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, proxied: r.headers.get('x-score-proxied-to'), json: await r.json() };
}

test('followers proxy writes to the leader with the caller\'s token and report the cluster; after a resign the next leader writes itself', { skip: gate.skip, timeout: 60_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const ctls: RunningController[] = [];
  try {
    const start = async (id: string): Promise<RunningController> => {
      const c = await startController({ port: 0, host: '127.0.0.1', scenario: 'paper', pollMs: 1000, reportMs: 1e9, out: () => undefined, tokens, allowSharedAgentToken: true, cluster: { endpoints: etcd.endpoints, id, ttlSec: 2, name: 'api' } });
      ctls.push(c);
      return c;
    };
    const a = await start('a');
    await waitFor(() => a.cluster?.member.role === 'leader', 'a leads', 10_000);
    const b = await start('b');
    await waitFor(() => b.cluster?.member.leader?.id === 'a', 'b sees a', 10_000);

    const status = await call(b.stack.apiUrl, 'GET', '/cluster', tokens.agent);
    assert.equal(status.status, 200);
    assert.deepEqual((status.json as { role: string; leader: { id: string; apiUrl: string } }).role, 'follower');
    assert.deepEqual((status.json as { leader: { id: string; apiUrl: string } }).leader.apiUrl, a.stack.apiUrl);
    assert.equal((await call(b.stack.apiUrl, 'GET', '/cluster', undefined)).status, 401);

    // events through the follower, from etcd
    const weightEvents = (xs: Sse[]): Sse[] => xs.filter((x) => x.type === 'weight-changed');
    const firstStream = readEvents(`${b.stack.apiUrl}/api/v1/cluster/events`, { authorization: `Bearer ${tokens.agent}` }, (xs) => weightEvents(xs).length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // the watch is open
    const w = await call(b.stack.apiUrl, 'PUT', '/weights/layers/1', tokens.operator, { weight: 7 });
    assert.equal(w.status, 200, JSON.stringify(w.json));
    assert.equal(w.proxied, 'a');
    const onA = (await call(a.stack.apiUrl, 'GET', '/weights', tokens.agent)).json as { layers: Record<string, number> };
    assert.equal(onA.layers['1'], 7, 'the leader applied the write');
    // a read of the leader's state through the follower is the leader's answer
    const viaB = await call(b.stack.apiUrl, 'GET', '/weights', tokens.agent);
    assert.equal(viaB.proxied, 'a', 'the follower forwards the read');
    assert.equal((viaB.json as { layers: Record<string, number> }).layers['1'], 7);
    assert.notEqual(b.stack.service.weights().layers['1'], 7, 'a standby does not apply writes itself');
    // tokens are checked on the follower already (every member has the same tokens): an agent
    // token may not set weights, and nothing travels
    const denied = await call(b.stack.apiUrl, 'PUT', '/weights/layers/1', tokens.agent, { weight: 8 });
    assert.equal(denied.status, 403);
    assert.equal(denied.proxied, null);
    assert.doesNotMatch(JSON.stringify((await call(a.stack.apiUrl, 'GET', '/weights', tokens.agent)).json), /\b8\b/);
    // a bad body is refused before it travels
    assert.equal((await call(b.stack.apiUrl, 'PUT', '/weights/layers/1', tokens.operator, { weight: -1 })).status, 400);

    const seen = weightEvents(await firstStream);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]?.data.data, { layer: 1, weight: 7 });
    const lastId = (await firstStream).at(-1)?.id as bigint;

    await a.stop();
    ctls.splice(ctls.indexOf(a), 1);
    await waitFor(() => b.cluster?.member.role === 'leader', 'b leads after a resigned', 10_000);
    // the operator's override made on a is in force on b (applied from the store at takeover)
    const layerOne = async (): Promise<number | undefined> => ((await call(b.stack.apiUrl, 'GET', '/weights', tokens.agent)).json as { layers: Record<string, number> }).layers['1'];
    assert.notEqual(((await call(b.stack.apiUrl, 'GET', '/weights', tokens.agent)).json as { layers: Record<string, number> }).layers['2'], undefined);
    await waitFor(async () => (await layerOne()) === 7, 'layer 1 weight 7 on the new leader', 10_000);
    const own = await call(b.stack.apiUrl, 'PUT', '/weights/layers/1', tokens.operator, { weight: 9 });
    assert.equal(own.status, 200);
    assert.equal(own.proxied, null, 'the leader answers itself');
    // the client comes back after the failover with its last event id: it gets what it missed,
    // once, and nothing it already had: the new leader re-applying the stored override (a new
    // event), then the operator's change on the new leader
    // (as the dashboard does it: EventSource's query token, and the Last-Event-ID header it sends
    // itself when it reconnects)
    const resumed = await readEvents(`${b.stack.apiUrl}/api/v1/cluster/events?token=${encodeURIComponent(tokens.operator)}`, { 'last-event-id': lastId.toString() }, (xs) => weightEvents(xs).length >= 2);
    assert.deepEqual(weightEvents(resumed).map((x) => x.data.data), [
      { layer: 1, weight: 7 },
      { layer: 1, weight: 9 },
    ]);
    assert.ok(resumed.every((x, i) => x.id > lastId && (i === 0 || x.id > (resumed[i - 1] as Sse).id)), 'ids grow across the failover');
    assert.equal((await fetch(`${b.stack.apiUrl}/api/v1/cluster/events`)).status, 401);
    assert.equal(b.cluster?.member.failovers, 1);
  } finally {
    for (const c of ctls) await c.stop().catch(() => undefined);
    await etcd.stop();
  }
});
