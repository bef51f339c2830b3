import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { controllerApi } from './api-client.ts';
import { retryableClaimError } from './agent.ts';
import { isScoreError, ScoreError } from '../errors/errors.ts';

// a fake controller on loopback answering /api/v1/cluster/ready from a script of statuses
async function fakeController(statuses: number[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const status = statuses.shift() ?? 500;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? JSON.stringify({ ready: true, reason: '' }) : JSON.stringify({ error: { code: 'INTERNAL', message: `status ${status}` } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('controlReady: a single controller (404 once) stays single through 500, 503 and 401; a cluster stays a cluster through them', async () => {
  const single = await fakeController([404, 500, 503, 401]);
  try {
    const api = controllerApi(single.url, 't');
    for (let i = 0; i < 4; i++) {
      const r = await api.controlReady!();
      assert.equal(r.cluster, false, `answer ${i}: ${r.reason}`);
      assert.equal(r.ready, true);
    }
  } finally {
    single.server.close();
  }
  const cluster = await fakeController([200, 503, 500]);
  try {
    const api = controllerApi(cluster.url, 't');
    assert.deepEqual(await api.controlReady!(), { cluster: true, ready: true, reason: '' });
    for (const status of ['503', '500']) {
      const r = await api.controlReady!();
      assert.equal(r.cluster, true);
      assert.equal(r.ready, false);
      assert.match(r.reason, new RegExp(status));
    }
  } finally {
    cluster.server.close();
  }
  // nothing learned yet and no answer: not ready (a cluster mid-election looks like this)
  const r = await controllerApi('http://127.0.0.1:1', 't').controlReady!();
  assert.deepEqual([r.cluster, r.ready], [true, false]);
  assert.match(r.reason, /unreachable/);
});

test('a controller that does not answer is CONTROLLER_UNREACHABLE (not the agent), and a report to it is retried', async () => {
  const e = await controllerApi('http://127.0.0.1:1', 't', 1000).register('hv1', 'http://127.0.0.1:2').then(
    () => assert.fail('registered with nothing listening'),
    (err: unknown) => err,
  );
  assert.ok(isScoreError(e, 'CONTROLLER_UNREACHABLE'), `got ${String(e)}`);
  assert.match((e as Error).message, /POST \/agents\/register unreachable/);
  assert.equal(retryableClaimError(e), true, 'an unreachable controller may be back, or another leader may answer');
  assert.equal(retryableClaimError(new ScoreError('UNKNOWN_VM', 'no such VM')), false, "the controller's definite answer is not retried");
});
