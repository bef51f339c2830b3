// Against a REAL ovs-vswitchd (see src/emulation/ovs.ts): the switch process is SIGKILLed under
// the controller runtime and started again on the same database, namespace and run dir. The
// controller must report each switch down, then up again with the same dpid on one fresh channel,
// and program it again from scratch (a restarted vswitchd has empty flow tables).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addBridge, ofctl, restartVswitchd, withOvs } from '../../emulation/ovs.ts';
import { resourceName } from '../../emulation/names.ts';
import { isRunning } from '../../emulation/procs.ts';
import { systemTestGate } from '../../emulation/system-gate.ts';
import { startController } from '../../cli/commands/controller.ts';
import { until } from './fake-switch.testing.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ovsdb-server', 'ip'] });

const ECHO_TIMEOUT_MS = 3000;

test('real OVS: vswitchd SIGKILLed then restarted: down before up, same dpids, one live channel each, flows programmed again', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lines: string[] = [];
  const ctl = await startController({
    port: 0,
    host: '127.0.0.1',
    pollMs: 300,
    probeMs: 300,
    reportMs: 1_000_000,
    echoIntervalMs: 200,
    echoTimeoutMs: ECHO_TIMEOUT_MS,
    verbose: true,
    out: (l) => lines.push(l),
  });
  const { runtime, dataPlane } = ctl;
  const dpids = [1n, 2n];
  const events = (dpid: bigint): string[] =>
    lines.flatMap((l) => (new RegExp(`switch (up|down) s${dpid}\\b`).exec(l) ?? []).slice(1, 2));
  try {
    await withOvs(async (o) => {
      const n = (x: string): string => resourceName(o.prefix, x);
      for (const d of dpids) await addBridge(o, n(`s${d}`), { dpid: d, controller: `tcp:127.0.0.1:${ctl.port}` });
      await until(() => dpids.every((d) => runtime.channels.has(d)), 'both switches up', 15_000);
      const before = new Map(dpids.map((d) => [d, dataPlane.connection(d)]));
      assert.ok([...before.values()].every((c) => c?.state === 'ready'), '[...before.values()].every((c) => c?.state === \'ready\')');

      // A flow from before the crash: it must not survive it.
      const ch1 = runtime.channels.get(1n);
      assert.ok(ch1 !== undefined, 'ch1 !== undefined');
      ch1.send([{ kind: 'flow-add', dpid: 1n, rule: { priority: 100, match: { ethDst: '00:00:00:00:00:01' }, actions: [{ type: 'output', port: 1 }], cookie: 0xdeadn, idleTimeout: 0, hardTimeout: 0 } }]);
      await dataPlane.connection(1n)?.barrier();
      assert.ok((await ch1.flowStats()).some((f) => f.cookie === 0xdeadn), '(await ch1.flowStats()).some((f) => f.cookie === 0xdeadn)');

      // Crash: SIGKILL, no goodbye on the OpenFlow channel.
      const killedAt = Date.now();
      process.kill(o.vswitchdPid, 'SIGKILL');
      await until(() => !isRunning(o.vswitchdPid), 'vswitchd gone', 5000);
      await until(() => dpids.every((d) => !runtime.channels.has(d)), 'both switches down', ECHO_TIMEOUT_MS + 5000);
      const downMs = Date.now() - killedAt;
      t.diagnostic(`switches down ${downMs} ms after SIGKILL`);
      for (const d of dpids) {
        assert.equal(dataPlane.connection(d), undefined, `no live connection for ${d} while vswitchd is dead`);
        assert.equal(before.get(d)?.state, 'closed');
        t.diagnostic(`s${d} closed: ${before.get(d)?.reason?.code} ${before.get(d)?.reason?.message}`);
        assert.deepEqual(events(d), ['up', 'down']);
      }

      // Same db, namespace, pidfile, log and run dir: the bridges and controller targets come back from ovsdb.
      const pid = await restartVswitchd(o);
      assert.notEqual(pid, o.vswitchdPid);
      await until(() => dpids.every((d) => runtime.channels.has(d)), 'both switches up again', 15_000);
      for (const d of dpids) {
        const c = dataPlane.connection(d);
        assert.ok(c !== undefined && c.state === 'ready' && c !== before.get(d), `a fresh ready connection for ${d}`);
        assert.equal(runtime.channels.get(d)?.dpid, d);
        assert.deepEqual(events(d), ['up', 'down', 'up']);
      }

      // Programmed again after the reconnect; the pre-crash flow is gone with the old process.
      const again = runtime.channels.get(1n);
      assert.ok(again !== undefined && again !== ch1, 'again !== undefined && again !== ch1');
      again.send([{ kind: 'flow-add', dpid: 1n, rule: { priority: 200, match: { ethDst: '00:00:00:00:00:02' }, actions: [{ type: 'output', port: 2 }], cookie: 0xbeefn, idleTimeout: 0, hardTimeout: 0 } }]);
      await dataPlane.connection(1n)?.barrier();
      const flows = await again.flowStats();
      const cookies = flows.map((f) => f.cookie.toString(16));
      assert.ok(cookies.includes('beef'), cookies.join(','));
      assert.ok(!cookies.includes('dead'), cookies.join(','));
      // The runtime reinstalled its table-miss rule on the new switch.
      let miss = flows.some((f) => f.cookie === 0n);
      for (let i = 0; i < 50 && !miss; i++) {
        await new Promise((r) => setTimeout(r, 100));
        miss = (await again.flowStats()).some((f) => f.cookie === 0n);
      }
      assert.ok(miss, 'table-miss rule reinstalled');
      assert.match(await ofctl(o, 'dump-flows', n('s1')), /cookie=0xbeef.*priority=200.*dl_dst=00:00:00:00:00:02.*actions=output:2/);

      // Still exactly one channel per dpid a moment later (no flapping, no duplicate).
      await new Promise((r) => setTimeout(r, 500));
      for (const d of dpids) assert.deepEqual(events(d), ['up', 'down', 'up']);
      assert.ok(!lines.some((l) => /malformed/.test(l)), lines.join('\n'));
    });
  } finally {
    await ctl.stop();
    if (process.env.SCORE_TEST_VERBOSE === '1') for (const l of lines) t.diagnostic(l);
  }
});

test('real OVS: a frozen vswitchd (SIGSTOP) is reported down by the echo timeout, and comes back up once thawed', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lines: string[] = [];
  const echoTimeoutMs = 1500;
  const ctl = await startController({
    port: 0,
    host: '127.0.0.1',
    pollMs: 300,
    probeMs: 300,
    reportMs: 1_000_000,
    echoIntervalMs: 200,
    echoTimeoutMs,
    verbose: true,
    out: (l) => lines.push(l),
  });
  const { runtime, dataPlane } = ctl;
  try {
    await withOvs(async (o) => {
      await addBridge(o, resourceName(o.prefix, 's1'), { dpid: 7, controller: `tcp:127.0.0.1:${ctl.port}` });
      await until(() => runtime.channels.has(7n), 'switch up', 15_000);
      const first = dataPlane.connection(7n);
      // The TCP connection stays open while the process is stopped: only silence tells.
      const stoppedAt = Date.now();
      process.kill(o.vswitchdPid, 'SIGSTOP');
      try {
        await until(() => !runtime.channels.has(7n), 'switch down by echo timeout', echoTimeoutMs + 5000);
        const ms = Date.now() - stoppedAt;
        t.diagnostic(`down ${ms} ms after SIGSTOP: ${first?.reason?.code} ${first?.reason?.message}`);
        assert.equal(first?.reason?.code, 'OF_TIMEOUT');
        assert.ok(ms >= echoTimeoutMs - 300, `down after ${ms} ms, before the echo timeout`);
      } finally {
        process.kill(o.vswitchdPid, 'SIGCONT');
      }
      await until(() => runtime.channels.has(7n), 'switch up again after SIGCONT', 15_000);
      const second = dataPlane.connection(7n);
      assert.ok(second !== undefined && second !== first && second.state === 'ready', 'second !== undefined && second !== first && second.state === \'ready\'');
      await second.barrier();
      assert.deepEqual(
        lines.flatMap((l) => (/switch (up|down) s7\b/.exec(l) ?? []).slice(1, 2)),
        ['up', 'down', 'up'],
      );
    });
  } finally {
    await ctl.stop();
    if (process.env.SCORE_TEST_VERBOSE === '1') for (const l of lines) t.diagnostic(l);
  }
});
