import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isScoreError } from '../../errors/errors.ts';
import { startController } from './controller.ts';
import { freePort, freePorts } from '../../cluster/etcd-process.ts';

/*
 * Issue 10, item 6: bad start-up input. A port that cannot be bound (OpenFlow or API) or TLS
 * files that cannot be used end start-up with a stable code and leave nothing listening.
 */

const bin = fileURLToPath(new URL('../../../bin/score.js', import.meta.url));

async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0 };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

const quiet = { out: () => undefined, pollMs: 1000, reportMs: 60_000, host: '127.0.0.1' };

test('issue input 6: the API port is taken: LISTEN_FAILED, and the OpenFlow port is closed again', async () => {
  const taken = await occupy();
  const ofPort = await freePort();
  try {
    await assert.rejects(startController({ ...quiet, port: ofPort, apiPort: taken.port }), (e) => isScoreError(e, 'LISTEN_FAILED') && e.message.includes(String(taken.port)) && /EADDRINUSE/.test(e.message));
    assert.ok(await refused(ofPort), 'no OpenFlow listener left behind');
  } finally {
    taken.server.close();
  }
});

test('same kind: the OpenFlow port taken (LISTEN_FAILED), TLS files that are not PEM (TLS_INVALID)', async () => {
  const taken = await occupy();
  // both at once: the kernel may hand a just-closed port out again
  const [apiPort, ofPort] = (await freePorts(2)) as [number, number];
  try {
    await assert.rejects(startController({ ...quiet, port: taken.port, apiPort }), (e) => isScoreError(e, 'LISTEN_FAILED') && /EADDRINUSE/.test(e.message));
    assert.ok(await refused(apiPort), 'no API either');
    await assert.rejects(startController({ ...quiet, port: ofPort, apiPort, tls: { cert: 'not a certificate', key: 'not a key' } }), (e) => isScoreError(e, 'TLS_INVALID'));
    assert.ok(await refused(ofPort), 'await refused(ofPort)');
    assert.ok(await refused(apiPort), 'await refused(apiPort)');
  } finally {
    taken.server.close();
  }
});

function score(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const { SCORE_OPERATOR_TOKEN: _o, SCORE_SHARED_AGENT_TOKEN: _s, ...rest } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000, killSignal: 'SIGKILL', env: { ...rest, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number | string }).code ?? (err as { signal?: string }).signal ?? 1) : 0, stdout, stderr });
    });
  });
}

test('`score controller` with a taken API port (a failure at run time: 1) or unreadable TLS files (bad input: 2) exits with "score: error CODE: message" and no stack trace', { timeout: 120_000 }, async () => {
  const taken = await occupy();
  const dir = mkdtempSync(join(tmpdir(), 'score-ctl-'));
  try {
    const ofPort = await freePort();
    const r = await score(['controller', '--host', '127.0.0.1', '--port', String(ofPort), '--api-port', String(taken.port)]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^score: error LISTEN_FAILED: cannot serve the API on 127\\.0\\.0\\.1:${taken.port}: EADDRINUSE\\n$`));
    writeFileSync(join(dir, 'bad.pem'), 'garbage\n');
    const t = await score(['controller', '--host', '127.0.0.1', '--port', String(ofPort), '--api-port', '0', '--tls-cert', join(dir, 'bad.pem'), '--tls-key', join(dir, 'bad.pem')]);
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /^score: error TLS_INVALID: cannot use the TLS certificate\/key\/CA for the OpenFlow listener: .+\n$/);
    const missing = await score(['controller', '--port', String(ofPort), '--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'nope.pem')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^score: error TLS_INVALID: --tls-cert: cannot read .*nope\.pem: ENOENT\n$/);
  } finally {
    taken.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`score controller --cluster` needs the same operator token on every member (SCORE_OPERATOR_TOKEN), and a shared agent token only if opted in: else exit 2 with CLI_USAGE, before touching etcd', { timeout: 60_000 }, async () => {
  const cluster = ['controller', '--port', '0', '--api-port', '0', '--cluster', 'etcd://127.0.0.1:1', '--id', 'c1'];
  const r = await score(cluster);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^score: error CLI_USAGE: --cluster needs the same operator token on every member: set SCORE_OPERATOR_TOKEN/);
  const shared = await score([...cluster, '--allow-shared-agent-token'], { SCORE_OPERATOR_TOKEN: 'op' });
  assert.equal(shared.code, 2, shared.stderr);
  assert.match(shared.stderr, /CLI_USAGE: --cluster needs the same operator token on every member: set SCORE_OPERATOR_TOKEN \(and SCORE_SHARED_AGENT_TOKEN/);
  // no shared agent token needed any more (agent credentials are in etcd): it goes on to etcd,
  // which is not there, and fails at run time (1), not on its usage
  const noShared = await score(cluster, { SCORE_OPERATOR_TOKEN: 'op' });
  assert.equal(noShared.code, 1, noShared.stderr);
  assert.match(noShared.stderr, /^score: error CLUSTER_UNAVAILABLE: /);
});
