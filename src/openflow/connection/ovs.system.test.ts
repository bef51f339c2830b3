// Against a REAL ovs-vswitchd (userspace datapath, its own namespace, see src/emulation/ovs.ts):
// three bridges in a chain joined by patch ports, the real controller runtime over this data plane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addBridge, addPort, ofctl, relaySocketPath, vsctl, withOvs } from '../../emulation/ovs.ts';
import { resourceName } from '../../emulation/names.ts';
import { systemTestGate } from '../../emulation/system-gate.ts';
import { links } from '../../controller/discovery.ts';
import { startController } from '../../cli/commands/controller.ts';
import { OFPP } from '../constants.ts';
import { until } from './fake-switch.testing.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl'] });

test('real OVS: handshake, flows in and out, port stats, echo, LLDP discovery via PACKET_OUT/IN, clean reconnect', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  const lines: string[] = [];
  const ctl = await startController({
    port: 0,
    host: '127.0.0.1',
    pollMs: 300,
    probeMs: 300,
    reportMs: 1_000_000,
    echoIntervalMs: 200,
    echoTimeoutMs: 5000,
    verbose: true,
    out: (l) => lines.push(l),
  });
  const { runtime, dataPlane } = ctl;
  try {
    await withOvs(async (o) => {
      const n = (x: string): string => resourceName(o.prefix, x);
      const target = `tcp:127.0.0.1:${ctl.port}`;
      for (const i of [1, 2, 3]) await addBridge(o, n(`s${i}`), { dpid: i, controller: target });
      const patch = async (a: string, pa: number, b: string, pb: number): Promise<void> => {
        await addPort(o, n(a), n(`${a}-p${pa}`), { ofport: pa, type: 'patch', options: { peer: n(`${b}-p${pb}`) } });
        await addPort(o, n(b), n(`${b}-p${pb}`), { ofport: pb, type: 'patch', options: { peer: n(`${a}-p${pa}`) } });
      };
      await patch('s1', 1, 's2', 1);
      await patch('s2', 2, 's3', 1);

      // Handshake complete for all three, with their ports (LOCAL hidden).
      await until(() => runtime.channels.size === 3, 'three switches up', 15_000);
      const ch2 = runtime.channels.get(2n);
      assert.ok(ch2 !== undefined, 'ch2 !== undefined');
      await until(() => ch2.ports.length === 2, 's2 ports', 5000);
      assert.deepEqual(ch2.ports.map((p) => p.port).sort(), [1, 2]);
      assert.ok(ch2.ports.every((p) => p.up), JSON.stringify(ch2.ports));
      t.diagnostic(`s2 ports: ${ch2.ports.map((p) => `${p.port}=${p.name}`).join(', ')}`);

      // Discovery: the runtime's LLDP PACKET_OUTs came back as PACKET_INs on the neighbours.
      await until(() => links(runtime.controller.disc).length === 2, 'two links discovered', 15_000);
      assert.ok(lines.some((l) => /link up s1:1 <-> s2:1|link up s2:1 <-> s1:1/.test(l)), lines.join('\n'));

      // A flow installed as a SwitchCommand, read back both ways.
      const ch1 = runtime.channels.get(1n);
      assert.ok(ch1 !== undefined, 'ch1 !== undefined');
      ch1.send([
        {
          kind: 'flow-add',
          dpid: 1n,
          rule: { priority: 1234, match: { ethDst: '00:00:00:00:00:2a', ethType: 0x0800 }, actions: [{ type: 'output', port: 1 }], cookie: 0x1234abcdn, idleTimeout: 0, hardTimeout: 0 },
        },
      ]);
      await dataPlane.connection(1n)?.barrier();
      const flows = await ch1.flowStats();
      assert.ok(flows.some((f) => f.cookie === 0x1234abcdn), flows.map((f) => f.cookie.toString(16)).join(','));
      // The table-miss rule the runtime installed is there too.
      assert.ok(flows.some((f) => f.cookie === 0n), 'flows.some((f) => f.cookie === 0n)');
      const dump = await ofctl(o, 'dump-flows', n('s1'));
      t.diagnostic(dump.trim());
      assert.match(dump, /cookie=0x1234abcd.*priority=1234.*dl_dst=00:00:00:00:00:2a.*actions=output:1/);
      assert.match(dump, /priority=0 actions=CONTROLLER:65535/);

      // Flow delete by cookie under mask.
      ch1.send([{ kind: 'flow-delete', dpid: 1n, cookie: 0x1234abcdn, cookieMask: 0xffffffffn }]);
      await dataPlane.connection(1n)?.barrier();
      assert.doesNotMatch(await ofctl(o, 'dump-flows', n('s1')), /cookie=0x1234abcd/);

      // Port statistics: the neighbour's LLDP probes arrive on the patch port (OVS does not count
      // controller PACKET_OUTs into a patch port as tx, so rx is what shows).
      let ps = await ch1.portStats();
      for (let i = 0; i < 50 && !ps.some((p) => p.port === 1 && p.rxBytes > 0n); i++) {
        await new Promise((r) => setTimeout(r, 100));
        ps = await ch1.portStats();
      }
      assert.ok(ps.length > 0 && ps.every((p) => p.port <= OFPP.MAX), 'ps.length > 0 && ps.every((p) => p.port <= OFPP.MAX)');
      assert.ok(ps.some((p) => p.port === 1 && p.rxBytes > 0n), JSON.stringify(ps, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

      // Echo keep-alive answered by OVS.
      await until(() => (dataPlane.connectionStats(1n)?.echoReplies ?? 0) >= 3, 'echo replies from OVS', 5000);
      t.diagnostic(`echo rtt ${dataPlane.connectionStats(1n)?.lastEchoRttMs?.toFixed(2)} ms`);

      // Reconnect: the controller removed and set again; down, then up again with the same dpid.
      await vsctl(o, 'del-controller', n('s2'));
      await until(() => !runtime.channels.has(2n), 's2 down', 10_000);
      assert.ok(lines.some((l) => /switch down s2/.test(l)), lines.join('\n'));
      await until(() => links(runtime.controller.disc).length === 0, 'links through s2 gone', 10_000);
      await vsctl(o, 'set-controller', n('s2'), `unix:${relaySocketPath(o.paths, ctl.port)}`);
      await until(() => runtime.channels.has(2n), 's2 up again', 15_000);
      await until(() => links(runtime.controller.disc).length === 2, 'links rediscovered', 15_000);
      const ups = lines.filter((l) => /switch up s2/.test(l)).length;
      const downs = lines.filter((l) => /switch down s2/.test(l)).length;
      assert.deepEqual([ups, downs], [2, 1]);
      assert.equal(runtime.stats.failures, 0, lines.filter((l) => l.includes('WARN')).join('\n'));
      assert.ok(!lines.some((l) => /malformed/.test(l)), lines.join('\n'));
    });
  } finally {
    await ctl.stop();
    if (process.env.SCORE_TEST_VERBOSE === '1') for (const l of lines) t.diagnostic(l);
  }
});
