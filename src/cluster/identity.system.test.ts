// Per-agent identity across a controller cluster, against a REAL etcd and real HTTP servers: one
// member is a `score controller` process (so it can be SIGKILLed), two run in this process (so
// the test can use the new leader's agent-call credential). Credentials issued through any member
// work on every member, a revocation through any member is refused on every member when its
// answer arrives and ends that credential's event streams everywhere, the new leader after a kill
// calls agents with a token they accept, and an agent credential does operator things nowhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemTestGate } from '../emulation/system-gate.ts';
import { startController, type RunningController } from '../cli/commands/controller.ts';
import { startAgent, type RunningAgent } from '../system/stack.ts';
import { controllerCredential } from '../api/identity.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { scenarioDpids } from '../scenario/dpids.ts';
import { FakeSwitch } from '../openflow/connection/fake-switch.testing.ts';
import { freePorts, startEtcd } from './etcd-process.ts';
import { CLUSTER_OPERATOR_TOKEN, killAll, spawnController, waitFor, type ControllerProcess } from './cluster.testing.ts';

const gate = systemTestGate({ tools: ['etcd'] });
const OP = CLUSTER_OPERATOR_TOKEN;

interface Answer {
  readonly status: number;
  readonly proxied: string | null;
  readonly json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(base: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: r.status, proxied: r.headers.get('x-score-proxied-to'), json: (await r.json()) as Answer['json'] };
}

/** An open event stream: resolves `ended` when the server closes it (not when the test aborts it). */
async function openStream(url: string, token: string): Promise<{ ended: Promise<number>; abort(): void }> {
  const ac = new AbortController();
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  assert.equal(r.status, 200, `${url}: ${r.status}`);
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  const ended = (async (): Promise<number> => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return Date.now();
    }
  })();
  ended.catch(() => undefined);
  return { ended, abort: () => ac.abort() };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

/** Answers every ROLE_REQUEST as a switch does (same role and generation back). */
function answerRoles(sw: FakeSwitch): () => void {
  let on = true;
  void (async () => {
    while (on && !sw.closed) {
      try {
        const rq = await sw.next('ROLE_REQUEST', 200);
        sw.send({ type: 'ROLE_REPLY', xid: rq.xid, role: rq.role, generationId: rq.generationId });
      } catch {
        // nothing asked in this interval
      }
    }
  })();
  return () => {
    on = false;
  };
}

test('cluster identity: credentials and the agent-call key live in etcd; issue/revoke on any member hold on every member, also after the leader is killed', { skip: gate.skip, timeout: 120_000 }, async () => {
  const etcd = await startEtcd({ size: 1 });
  const procs: ControllerProcess[] = [];
  const inproc: RunningController[] = [];
  const agents: RunningAgent[] = [];
  const streams: { abort(): void }[] = [];
  let sw: FakeSwitch | undefined;
  let stopRoles = (): void => undefined;
  try {
    // A: a real `score controller --cluster` process with the paper scenario; it leads
    const [aOf, aApi] = (await freePorts(2)) as [number, number];
    const a = spawnController({ id: 'a', ofPort: aOf, apiPort: aApi, endpoints: etcd.endpoints, scenario: 'paper', extra: ['--poll-ms', '60000'] });
    procs.push(a);
    const A = `http://127.0.0.1:${aApi}`;
    await waitFor(async () => {
      try {
        return (await call(A, 'GET', '/cluster', OP)).json.role === 'leader';
      } catch {
        return false;
      }
    }, 'a leads', 20_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${a.lines.map((l) => l.text).join('\n')}`);
    });
    // B and C: members in this process, without a shared agent token
    const start = async (id: string): Promise<RunningController> => {
      const c = await startController({ port: 0, host: '127.0.0.1', pollMs: 60_000, reportMs: 1e9, out: () => undefined, tokens: { operator: OP }, cluster: { endpoints: etcd.endpoints, id, ttlSec: 2 } });
      inproc.push(c);
      await waitFor(() => c.cluster?.member.leader?.id === 'a', `${id} sees a lead`, 10_000);
      return c;
    };
    const b = await start('b');
    const c = await start('c');
    const B = b.stack.apiUrl;
    const C = c.stack.apiUrl;
    const members = { a: A, b: B, c: C };

    // hv16's switch at the leader, so an agent can register as hv16 there
    const hv16 = scenarioDpids(loadScenarioFile('paper').scenario).get('hv16') as bigint;
    sw = await FakeSwitch.up(aOf, hv16);
    stopRoles = answerRoles(sw);

    // issued through followers (proxied to the leader), usable on every member as soon as the answer arrives
    const issued16 = await call(B, 'POST', '/credentials', OP, { hypervisor: 'hv16' });
    assert.equal(issued16.status, 200, JSON.stringify(issued16.json));
    assert.equal(issued16.proxied, 'a');
    const t16 = issued16.json.token as string;
    const id16 = (issued16.json.credential as { id: string }).id;
    const issued17 = await call(C, 'POST', '/credentials', OP, { hypervisor: 'hv17' });
    assert.equal(issued17.status, 200, JSON.stringify(issued17.json));
    const t17 = issued17.json.token as string;
    const id17 = (issued17.json.credential as { id: string }).id;
    for (const [name, base] of Object.entries(members)) {
      for (const t of [t16, t17]) {
        assert.equal((await call(base, 'GET', '/hosts', t)).status, 200, `a credential issued via b/c works on ${name}`);
        // cluster routes use the API's authenticator: credentials from etcd are accepted there too
        assert.equal((await call(base, 'GET', '/cluster', t)).status, 200, `GET /cluster with a credential on ${name}`);
      }
      assert.equal((await call(base, 'GET', '/cluster', 'cred-000000000000.nope')).status, 401);
      const listed = (await call(base, 'GET', '/credentials', OP)).json as unknown as { id: string }[];
      assert.deepEqual(listed.map((x) => x.id).sort(), [id16, id17].sort(), `every member lists both on ${name}`);
    }

    // an agent credential does operator things on no member (a follower refuses before anything travels)
    for (const [name, base] of Object.entries(members)) {
      const tries: [string, string, unknown?][] = [
        ['GET', '/credentials'],
        ['POST', '/credentials', { hypervisor: 'hv16' }],
        ['POST', `/credentials/${id17}/revoke`],
        ['GET', '/audit/refusals'],
        ['PUT', '/weights/layers/1', { weight: 9 }],
        ['POST', '/orchestration/start', { policy: 'la' }],
        ['GET', '/migrations'],
      ];
      for (const [method, path, body] of tries) {
        const r = await call(base, method, path, t16, body);
        assert.equal(r.status, 403, `${method} ${path} with hv16's credential on ${name}: ${JSON.stringify(r.json)}`);
        assert.equal(r.json.error?.code, 'API_FORBIDDEN');
        assert.equal(r.proxied, null, 'refused where it arrived');
      }
      const asOther = await call(base, 'POST', '/agents/register', t16, { hypervisor: 'hv17', url: 'http://127.0.0.1:1' });
      assert.equal(asOther.status, 403, `register as hv17 on ${name}`);
      assert.equal(asOther.json.error?.code, 'AGENT_IDENTITY_MISMATCH');
    }
    assert.equal((await call(A, 'GET', '/credentials', OP)).status, 200, 'hv17 is still active: the forbidden revoke did nothing');
    assert.equal((await call(C, 'GET', '/hosts', t17)).status, 200);

    // hv16's agent registers through follower c (proxied to a) and learns how to recognise the controller
    const driver = { name: 'none', migrate: () => Promise.reject(new Error('no migrations in this test')) };
    await waitFor(async () => (await call(A, 'GET', '/hypervisors', OP)).json !== null && JSON.stringify((await call(A, 'GET', '/hypervisors', OP)).json).includes('"hv16"'), 'hv16 known to a', 10_000);
    const agent = await startAgent({ hypervisor: 'hv16', apiUrl: C, token: t16, driver });
    agents.push(agent);
    const agentStatus = async (token: string): Promise<number> =>
      (await fetch(`${agent.url}/agent/v1/cost`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ vm: 'vm1' }) })).status;
    assert.equal(await agentStatus(controllerCredential().tokenFor('hv16')), 401, 'a controller with another key is refused');
    assert.equal(await agentStatus(t16), 401, "the agent's own credential opens no agent");
    assert.notEqual(await agentStatus((c.stack.controllerCredential).tokenFor('hv16')), 401, "every member derives the agent's token from the key in etcd");

    // hv17's event streams, on the leader (a process) and a follower (c), both kinds
    const opened = await Promise.all([
      openStream(`${A}/api/v1/events`, t17),
      openStream(`${A}/api/v1/cluster/events`, t17),
      openStream(`${C}/api/v1/events`, t17),
      openStream(`${C}/api/v1/cluster/events`, t17),
    ]);
    streams.push(...opened);
    const t16Stream = await openStream(`${C}/api/v1/cluster/events`, t16);
    streams.push(t16Stream);
    await new Promise((r) => setTimeout(r, 200));

    // revoked through b: when the answer arrives, every member refuses it and its streams ended
    const revoked = await call(B, 'POST', `/credentials/${id17}/revoke`, OP);
    const answeredAt = Date.now();
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.equal(typeof (revoked.json as { revokedAt?: unknown }).revokedAt, 'number');
    for (const [name, base] of Object.entries(members)) {
      const r = await call(base, 'GET', '/hosts', t17);
      assert.equal(r.status, 401, `hv17 refused at once on ${name}`);
      assert.equal(r.json.error?.code, 'CREDENTIAL_REVOKED');
      assert.equal((await call(base, 'GET', '/cluster', t17)).status, 401);
      assert.equal((await call(base, 'GET', '/hosts', t16)).status, 200, `hv16 unaffected on ${name}`);
    }
    const endedAt = await within(Promise.all(opened.map((s) => s.ended)), 2000, "hv17's streams end");
    const lag = Math.max(...endedAt) - answeredAt;
    console.log(`# revocation: hv17's 4 streams on a and c ended ${lag} ms after the revoke answered (negative: before it)`);
    const still = await Promise.race([t16Stream.ended.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 300))]);
    assert.equal(still, 'open', "hv16's stream stays open");
    assert.equal((await call(C, 'POST', '/agents/register', t17, { hypervisor: 'hv17', url: 'http://127.0.0.1:1' })).status, 401);

    // the leader is killed: the new leader calls the agent with a token it accepts, without the
    // agent registering again (it still holds what it learnt from a)
    const killedAt = Date.now();
    await killAll([a]);
    const next = await waitFor(() => inproc.find((x) => x.cluster?.member.role === 'leader'), 'a new leader', 15_000);
    console.log(`# new leader ${next.cluster?.member.id} ${Date.now() - killedAt} ms after the kill`);
    const fromNew = await agentStatus(next.stack.controllerCredential.tokenFor('hv16'));
    assert.notEqual(fromNew, 401, `the agent accepts the new leader (${fromNew})`);
    const other = inproc.find((x) => x !== next) as RunningController;
    // no heartbeat while no leader: agent credentials are refused (503) from a TTL after the old
    // leader's last heartbeat until the new leader's first one (docs/cluster.md)
    for (const m of [next, other]) {
      await waitFor(async () => (await call(m.stack.apiUrl, 'GET', '/hosts', t16)).status === 200, `${m.cluster?.member.id ?? ''} accepting agent credentials again`, 5_000);
    }
    console.log(`# agent credentials accepted again on both members ${Date.now() - killedAt} ms after the kill`);
    for (const m of [next, other]) {
      assert.equal((await call(m.stack.apiUrl, 'GET', '/hosts', t16)).status, 200);
      assert.equal((await call(m.stack.apiUrl, 'GET', '/hosts', t17)).status, 401);
      assert.equal((await call(m.stack.apiUrl, 'PUT', '/weights/layers/1', t16, { weight: 3 })).status, 403);
    }
    // the new leader issues and revokes; the other member follows at once
    const t18r = await call(other.stack.apiUrl, 'POST', '/credentials', OP, { hypervisor: 'hv18' });
    assert.equal(t18r.status, 200, JSON.stringify(t18r.json));
    assert.equal(t18r.proxied, next.cluster?.member.id);
    const t18 = t18r.json.token as string;
    assert.equal((await call(other.stack.apiUrl, 'GET', '/hosts', t18)).status, 200);
    assert.equal((await call(next.stack.apiUrl, 'POST', `/credentials/${(t18r.json.credential as { id: string }).id}/revoke`, OP)).status, 200);
    assert.equal((await call(other.stack.apiUrl, 'GET', '/hosts', t18)).status, 401);
    assert.equal((await call(other.stack.apiUrl, 'POST', `/credentials/${id16}/revoke`, OP, undefined)).status, 200);
    assert.equal((await within(t16Stream.ended, 2000, "hv16's stream ends when hv16 is revoked")) > 0, true);

    // a member out of contact with etcd (keepalives stopped) may have missed a revocation: it
    // refuses every agent credential (fail closed) while the operator still gets answers
    const t19 = (await call(next.stack.apiUrl, 'POST', '/credentials', OP, { hypervisor: 'hv19' })).json.token as string;
    assert.equal((await call(other.stack.apiUrl, 'GET', '/hosts', t19)).status, 200);
    // its streams opened with an agent credential end too (it may have missed their revocation)
    const t19Streams = [await openStream(`${other.stack.apiUrl}/api/v1/events`, t19), await openStream(`${other.stack.apiUrl}/api/v1/cluster/events`, t19)];
    streams.push(...t19Streams);
    const cutAt = Date.now();
    other.cluster?.member.abandon();
    const refused = await waitFor(async () => {
      const r = await call(other.stack.apiUrl, 'GET', '/hosts', t19);
      return r.status === 200 ? false : r;
    }, 'the cut-off member refuses agent credentials', 5_000);
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error?.code, 'CLUSTER_UNAVAILABLE');
    assert.equal((await call(other.stack.apiUrl, 'GET', '/hosts', OP)).status, 200);
    const cutEnded = await within(Promise.all(t19Streams.map((x) => x.ended)), 5_000, "the cut-off member's agent streams end");
    console.log(`# cut-off member: its 2 agent streams ended ${Math.max(...cutEnded) - cutAt} ms after its keepalives stopped`);
  } finally {
    for (const s of streams) s.abort();
    stopRoles();
    sw?.close();
    for (const ag of agents) await ag.stop().catch(() => undefined);
    for (const x of inproc) await x.stop().catch(() => undefined);
    await killAll(procs);
    await etcd.stop();
  }
});
