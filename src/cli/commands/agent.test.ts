/**
 * `score agent` as a process (issue 15): a controller that cannot be reached at start is a failure
 * (exit 1, port closed); a controller lost later is retried with back-off, and said so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../../system/stack.ts';
import { freePort, freePorts } from '../../cluster/etcd-process.ts';
import type { MigrationDriver } from '../../agent/drivers/driver.ts';

const bin = fileURLToPath(new URL('../../../bin/score.js', import.meta.url));

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      resolve(false);
    });
    c.on('error', () => resolve(true));
  });
}

test('score agent with an unreachable controller exits 1 with CONTROLLER_UNREACHABLE and leaves no port open', async () => {
  // two at once: the kernel may hand a just-closed port out again
  const [controller, own] = (await freePorts(2)) as [number, number];
  const t0 = Date.now();
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, 'agent', '--controller', `http://127.0.0.1:${controller}`, '--hypervisor', 'hv16', '--token', 'ag', '--listen', `127.0.0.1:${own}`], { timeout: 60_000 }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^score: error CONTROLLER_UNREACHABLE: controller API POST \/agents\/register unreachable/m);
  assert.ok(Date.now() - t0 < 50_000, 'it exits instead of hanging');
  assert.equal(await refused(own), true);
  // Bad input is exit 2.
  const bad = await new Promise<number | null>((resolve) => {
    execFile(process.execPath, [bin, 'agent', '--controller', `http://127.0.0.1:${controller}`, '--hypervisor', 'hv16', '--token', 'ag', '--listen', 'nowhere'], { timeout: 60_000 }, (err) =>
      resolve(err ? ((err as { code?: number }).code ?? null) : 0),
    );
  });
  assert.equal(bad, 2);
  // a port already in use: LISTEN_FAILED with the address, not a stack trace
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const taken = (busy.address() as { port: number }).port;
  try {
    const b = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'agent', '--controller', `http://127.0.0.1:${controller}`, '--hypervisor', 'hv16', '--token', 'ag', '--listen', `127.0.0.1:${taken}`], { timeout: 60_000 }, (err, _out, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, new RegExp(`^score: error LISTEN_FAILED: agent for hv16 cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`, 'm'));
    assert.doesNotMatch(b.stderr, /setupListenHandle/, 'no stack trace');
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test('startAgent closes its own server when the controller cannot be reached', async () => {
  // two at once: the kernel may hand a just-closed port out again
  const [controller, own] = (await freePorts(2)) as [number, number];
  const driver: MigrationDriver = { name: 'none', migrate: () => Promise.reject(new Error('not used')) };
  await assert.rejects(
    startAgent({ hypervisor: 'hv16', apiUrl: `http://127.0.0.1:${controller}`, token: 'ag', driver, port: own }),
    (e: Error & { code?: string }) => e.code === 'CONTROLLER_UNREACHABLE',
  );
  assert.equal(await refused(own), true);
});

/** A stand-in controller that accepts registrations, on a fixed port so it can come back. */
function fakeController(port: number): Promise<Server> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'hv16', dpid: '00:00:00:00:00:00:01:16', capacity: 5, vms: [], agent: null }));
    });
  });
  return new Promise((resolve) => s.listen(port, '127.0.0.1', () => resolve(s)));
}

test('a running score agent that loses its controller retries with back-off, says so, and recovers', async () => {
  const port = await freePort();
  let server = await fakeController(port);
  const child = spawn(process.execPath, [bin, 'agent', '--controller', `http://127.0.0.1:${port}`, '--hypervisor', 'hv16', '--token', 'ag', '--check-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const until = async (re: RegExp, ms = 40_000): Promise<void> => {
    const t0 = Date.now();
    while (!re.test(output)) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}; output:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await until(/registered with http/);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await until(/agent hv16: lost the controller \(.*\); retrying in 1\.0 s/);
    await until(/agent hv16: controller still unreachable \(.*\); retrying in 2\.0 s/);
    server = await fakeController(port);
    await until(/agent hv16: controller reachable again after \d+ failed attempt\(s\); registered again/);
    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
  } finally {
    child.kill('SIGKILL');
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
