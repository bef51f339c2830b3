// The C load generator (bench/cbench/cbench-gen.c), built with `cc` as the bench builds it, driven
// for about a second against (1) a responder in this process that checks every handshake answer
// with the project's OpenFlow codec and (2) the bench's null responder (bench/cbench/null-controller.ts,
// its own process): the handshake answers, the distinct dpids, the packet-ins for new flows, the
// counts, and latencies that are positive and ordered. Needs a C compiler: a system test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemTestGate } from '../../src/emulation/system-gate.ts';
import { freePort } from '../../src/cluster/etcd-process.ts';
import { encodeMessage } from '../../src/openflow/encode.ts';
import { decodeMessage } from '../../src/openflow/decode.ts';
import type { OfMessage } from '../../src/openflow/messages.ts';
import { buildCGenerator, type CGenerator } from './c-generator.ts';
import type { LoadResult } from './generator.ts';

const gate = systemTestGate({ tools: ['cc'] });

type Result = LoadResult & { latencyMs: { p50: number; p99: number; mean: number; max: number; min: number } | null };

function run(gen: CGenerator, args: readonly string[]): { code: number | null; result: Result | undefined; stderr: string } {
  const r = spawnSync(gen.path, args, { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let result: Result | undefined;
  try {
    result = JSON.parse(line) as Result;
  } catch {
    result = undefined;
  }
  return { code: r.status, result, stderr: r.stderr };
}

/** Asynchronously, so a responder in this process keeps answering meanwhile. */
function runAsync(gen: CGenerator, args: readonly string[]): Promise<{ code: number | null; result: Result | undefined; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(gen.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      let result: Result | undefined;
      try {
        result = JSON.parse(out.trim().split('\n').pop() ?? '') as Result;
      } catch {
        result = undefined;
      }
      resolve({ code, result, stderr: err });
    });
  });
}

function checkLatencies(r: Result, what: string): void {
  const l = r.latencyMs;
  assert.ok(l !== null, `${what}: latencies reported (${JSON.stringify(r)})`);
  assert.ok(l.min > 0, `${what}: the fastest round trip is positive (${l.min} ms)`);
  assert.ok(l.min <= l.p50, `${what}: min ${l.min} <= p50 ${l.p50}`);
  assert.ok(l.p50 <= l.p99, `${what}: p50 ${l.p50} <= p99 ${l.p99}`);
  assert.ok(l.p99 <= l.max, `${what}: p99 ${l.p99} <= max ${l.max}`);
  assert.ok(l.mean >= l.min && l.mean <= l.max, `${what}: mean ${l.mean} within [min, max]`);
  // a loopback round trip of 30 s would be a unit error (ns taken for ms), not a slow machine
  assert.ok(l.max < 30_000, `${what}: max ${l.max} ms is a plausible round trip in ms`);
}

interface Conn {
  readonly replies: OfMessage[];
  readonly packetIns: Extract<OfMessage, { type: 'PACKET_IN' }>[];
}

/** A controller that sends every handshake request the compared controllers send and records the answers, decoded by the codec. */
function checkingResponder(port: number, answerDelayMs = 0): Promise<{ conns: Conn[]; close(): void }> {
  const conns: Conn[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    const c: Conn = { replies: [], packetIns: [] };
    conns.push(c);
    const send = (m: OfMessage): void => void s.write(encodeMessage(m));
    send({ type: 'HELLO', xid: 1, elements: [{ type: 'VERSIONBITMAP', versions: [4] }] });
    send({ type: 'FEATURES_REQUEST', xid: 2 });
    send({ type: 'GET_CONFIG_REQUEST', xid: 3 });
    send({ type: 'ROLE_REQUEST', xid: 4, role: 2, generationId: 77n });
    send({ type: 'ECHO_REQUEST', xid: 5, data: Uint8Array.from([1, 2, 3]) });
    send({ type: 'BARRIER_REQUEST', xid: 6 });
    send({ type: 'MULTIPART_REQUEST', xid: 7, flags: 0, body: { kind: 'PORT_DESC' } });
    send({ type: 'MULTIPART_REQUEST', xid: 8, flags: 0, body: { kind: 'PORT_STATS', portNo: 0xffffffff } });
    send({ type: 'MULTIPART_REQUEST', xid: 9, flags: 0, body: { kind: 'FLOW', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: [] } });
    let rest = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      let buf = Buffer.concat([rest, chunk]);
      while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
        const len = buf.readUInt16BE(2);
        const m = decodeMessage(buf.subarray(0, len));
        buf = buf.subarray(len);
        if (m.type === 'PACKET_IN') {
          c.packetIns.push(m);
          const out: OfMessage = { type: 'PACKET_OUT', xid: 0, bufferId: 0xffffffff, inPort: 0xfffffffd, actions: [{ type: 'OUTPUT', port: 1, maxLen: 0 }], data: m.data };
          if (answerDelayMs > 0) setTimeout(() => send(out), answerDelayMs);
          else send(out);
        } else if (m.type !== 'HELLO') c.replies.push(m);
      }
      rest = Buffer.from(buf);
    });
    s.on('error', () => undefined);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () =>
      resolve({
        conns,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}

async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const macOf = (b: Uint8Array, at: number): string => Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

test('cbench-gen answers the handshake, sends packet-ins for new flows and times the answers', { skip: gate.skip, timeout: 120_000 }, async (t) => {
  const gen = buildCGenerator('score-test-cbench-gen-');
  t.after(() => gen.remove());

  await t.test('handshake answers, dpids, packet-ins and counts against a checking responder (paced)', async () => {
    const port = await freePort();
    const responder = await checkingResponder(port);
    try {
      const { code, result: r, stderr } = await runAsync(gen, [String(port), '4', 'paced', '1', '500', '--warmup', '0.3']);
      assert.equal(code, 0, `the generator exits 0 (stderr: ${stderr})`);
      assert.ok(r !== undefined, 'it prints one JSON line');
      assert.match(stderr, /cbench-phase start\ncbench-phase end/, 'it marks the measured run on stderr');
      assert.equal(r.connected, 4, 'every switch completed the handshake');
      assert.equal(responder.conns.length, 4, 'one connection per switch');
      const dpids = new Set<bigint>();
      for (const [i, c] of responder.conns.entries()) {
        const byXid = new Map(c.replies.map((m) => [m.xid, m]));
        const f = byXid.get(2);
        assert.ok(f?.type === 'FEATURES_REPLY', `connection ${i}: FEATURES_REPLY to xid 2 (got ${JSON.stringify(f?.type)})`);
        assert.equal(f.nBuffers, 0, `connection ${i}: no buffers, so every packet-in carries its frame`);
        dpids.add(f.datapathId);
        const g = byXid.get(3);
        assert.ok(g?.type === 'GET_CONFIG_REPLY' && g.missSendLen === 0xffff, `connection ${i}: GET_CONFIG_REPLY to xid 3`);
        const role = byXid.get(4);
        assert.ok(role?.type === 'ROLE_REPLY', `connection ${i}: ROLE_REPLY to xid 4`);
        assert.equal(role.role, 2, `connection ${i}: the role asked for`);
        assert.equal(role.generationId, 77n, `connection ${i}: the generation id asked for`);
        const echo = byXid.get(5);
        assert.ok(echo?.type === 'ECHO_REPLY', `connection ${i}: ECHO_REPLY to xid 5`);
        assert.deepEqual([...echo.data], [1, 2, 3], `connection ${i}: the echo's data back`);
        assert.equal(byXid.get(6)?.type, 'BARRIER_REPLY', `connection ${i}: BARRIER_REPLY to xid 6`);
        const desc = byXid.get(7);
        assert.ok(desc?.type === 'MULTIPART_REPLY' && desc.body.kind === 'PORT_DESC', `connection ${i}: PORT_DESC reply to xid 7`);
        assert.deepEqual(desc.body.ports.map((p) => p.portNo), [1, 2, 3, 4], `connection ${i}: four ports`);
        const stats = byXid.get(8);
        assert.ok(stats?.type === 'MULTIPART_REPLY' && stats.body.kind === 'PORT_STATS', `connection ${i}: PORT_STATS reply to xid 8`);
        assert.equal(stats.body.ports.length, 4, `connection ${i}: statistics of four ports`);
        const flows = byXid.get(9);
        assert.ok(flows?.type === 'MULTIPART_REPLY' && flows.body.kind === 'FLOW' && flows.body.flows.length === 0, `connection ${i}: an empty FLOW reply to xid 9`);

        const [first, ...load] = c.packetIns;
        assert.ok(first !== undefined && load.length > 0, `connection ${i}: packet-ins arrived (${c.packetIns.length})`);
        const sw = Number(f.datapathId);
        const swHex = `${((sw >> 8) & 0xff).toString(16).padStart(2, '0')}:${(sw & 0xff).toString(16).padStart(2, '0')}`;
        assert.deepEqual(first.match, [{ field: 'in_port', value: 1 }], `connection ${i}: the destination is announced on port 1`);
        assert.equal(macOf(first.data, 6), `02:${swHex}:ff:ff:ff`, `connection ${i}: from the destination's MAC`);
        const sources = new Set<string>();
        for (const p of load) {
          const inPort = p.match.find((m) => m.field === 'in_port')?.value;
          assert.ok(inPort === 2 || inPort === 3 || inPort === 4, `connection ${i}: a host port (${String(inPort)})`);
          assert.equal(macOf(p.data, 0), `02:${swHex}:ff:ff:ff`, `connection ${i}: to the announced destination`);
          assert.equal(p.data.length, 64, `connection ${i}: a 64-byte frame`);
          sources.add(macOf(p.data, 6));
        }
        assert.equal(sources.size, load.length, `connection ${i}: every packet-in is a new flow (a new source MAC)`);
      }
      assert.deepEqual([...dpids].sort(), [1n, 2n, 3n, 4n], 'a distinct dpid per switch, 1..4');
      // 500/s for ~1 s, on an absolute schedule: the count is the schedule's, answers or not
      assert.ok(r.sent >= 450 && r.sent <= 550, `sent ${r.sent} packet-ins in the measured second at 500/s`);
      assert.ok(r.answered >= r.sent - 25 && r.answered <= r.sent + 25, `answered ${r.answered} of ${r.sent}`);
      assert.equal(r.offeredRate, 500, 'the offered rate is reported');
      checkLatencies(r, 'paced');
    } finally {
      responder.close();
    }
  });

  await t.test('paced mode times only the packet-ins sent in the measured window, and waits for their late answers', async () => {
    const port = await freePort();
    // answers 150 ms late: warm-up packet-ins are answered inside the window, the window's last ones after it
    const responder = await checkingResponder(port, 150);
    const dir = mkdtempSync(join(tmpdir(), 'score-test-cbench-dump-'));
    try {
      const dump = join(dir, 'rtt.txt');
      const { code, result: r, stderr } = await runAsync(gen, [String(port), '2', 'paced', '1', '400', '--warmup', '0.5', '--dump', dump]);
      assert.equal(code, 0, `the generator exits 0 (stderr: ${stderr})`);
      assert.ok(r !== undefined, 'it prints one JSON line');
      const rows = readFileSync(dump, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
      const early = rows.filter(([sentMs]) => sentMs! < 0);
      assert.equal(early.length, 0, `no round trip of a packet-in sent before the window (${early.length} of ${rows.length})`);
      assert.equal(r.answered, r.sent, `every packet-in of the window answered and timed (${r.answered} of ${r.sent}), the late ones too`);
      assert.equal(rows.length, r.sent, 'one round trip per packet-in of the window');
      assert.equal((r as Result & { unanswered?: number }).unanswered, 0, 'nothing left unanswered');
      assert.ok(r.latencyMs !== null && r.latencyMs.min >= 140, `every round trip includes the responder's 150 ms (min ${r.latencyMs?.min})`);
    } finally {
      responder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  await t.test('throughput and latency modes against the null responder (its own process)', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./null-controller.ts', import.meta.url)), String(port)], {
      stdio: 'ignore',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    try {
      await listening(port, 20_000);
      const tp = run(gen, [String(port), '8', 'throughput', '1', '4', '--warmup', '0.3']);
      assert.equal(tp.code, 0, `throughput run exits 0 (stderr: ${tp.stderr})`);
      assert.ok(tp.result !== undefined, 'throughput: one JSON line');
      assert.equal(tp.result.connected, 8, 'throughput: all 8 switches up');
      assert.equal(tp.result.mode, 'throughput');
      assert.equal(tp.result.latencyMs, null, 'throughput mode reports no latencies');
      assert.ok(tp.result.answered > 500, `throughput: ${tp.result.answered} answered in a second`);
      // each answer sends the next packet-in at once: the two counts are the same while measuring
      assert.equal(tp.result.sent, tp.result.answered, 'throughput: one new packet-in per answer');
      assert.ok(Math.abs(tp.result.responsesPerSecond - tp.result.answered / (tp.result.durationMs / 1000)) <= 0.02 * tp.result.responsesPerSecond + 1, 'responses/s is answered over the run');

      const lat = run(gen, [String(port), '8', 'latency', '1', '--warmup', '0.3']);
      assert.equal(lat.code, 0, `latency run exits 0 (stderr: ${lat.stderr})`);
      assert.ok(lat.result !== undefined, 'latency: one JSON line');
      assert.equal(lat.result.connected, 8, 'latency: all 8 switches up');
      assert.ok(lat.result.answered > 100, `latency: ${lat.result.answered} answered in a second`);
      assert.equal(lat.result.sent, lat.result.answered, 'latency: one outstanding per switch, the next sent on the answer');
      checkLatencies(lat.result, 'latency');
    } finally {
      child.kill('SIGKILL');
    }
  });

  await t.test('no controller listening: exit 1, said so', async () => {
    const port = await freePort();
    const r = run(gen, [String(port), '2', 'latency', '1', '--warmup', '0']);
    assert.equal(r.code, 1, `exit 1 when no switch connected (stderr: ${r.stderr})`);
    assert.match(r.stderr, /no switch connected/);
  });

  await t.test('a --dump file that cannot be written fails before the run: exit 2, said so', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = run(gen, [String(port), '2', 'paced', '1', '--warmup', '0', '--dump', join(tmpdir(), `score-no-such-dir-${process.pid}`, 'dump.txt')]);
    assert.equal(r.code, 2, `an unwritable --dump path is an input error (stderr: ${r.stderr})`);
    assert.match(r.stderr, /cannot write the --dump file/);
    assert.ok(Date.now() - started < 5_000, 'without connecting or running first');
  });

  await t.test('bad arguments exit 2 with a message', () => {
    const bad = run(gen, ['6653', '4', 'sideways', '1']);
    assert.equal(bad.code, 2, 'an unknown mode is an input error');
    assert.match(bad.stderr, /bad mode: sideways/, 'naming the mode');
    const none = run(gen, []);
    assert.equal(none.code, 2, 'no arguments is an input error');
    assert.match(none.stderr, /usage: cbench-gen/, 'with the usage');
    const huge = run(gen, ['6653', '1e12', 'latency', '1']);
    assert.equal(huge.code, 2, 'a switch count past 1e9 is an input error, not an overflowing cast');
  });
});
