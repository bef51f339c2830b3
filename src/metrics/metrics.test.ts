import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { simDriver } from '../agent/drivers/sim.ts';
import { startAgent, startStack, type RunningAgent } from '../system/stack.ts';
import type { Cost } from '../api/contract.ts';
import type { DataPlane } from '../runtime/dataplane.ts';
import type { MetricsSources } from './metrics.ts';
import { createStackMetrics, packetKind } from './metrics.ts';
import { parseExposition, sumOf, valueOf } from './exposition.testing.ts';
import { ETHERTYPE } from '../packet/ethernet.ts';
import { realClock } from '../runtime/clock.ts';
import { openflowDataPlane } from '../openflow/connection/dataplane.ts';
import { FakeSwitch, until } from '../openflow/connection/fake-switch.testing.ts';
import { OFPBRC, OFPET } from '../openflow/constants.ts';

const EXPECTED: Record<string, string> = {
  score_switches_connected: 'gauge',
  score_links_discovered: 'gauge',
  score_hosts_known: 'gauge',
  score_packet_ins_total: 'counter',
  score_openflow_errors_total: 'counter',
  score_stats_poll_duration_seconds: 'histogram',
  score_stats_poll_failures_total: 'counter',
  score_layer_mean_utilisation_ratio: 'gauge',
  score_communication_cost: 'gauge',
  score_migrations_total: 'counter',
  score_decision_duration_seconds: 'histogram',
  score_api_requests_total: 'counter',
};

test('the exposition reader rejects what Prometheus would', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v\\"q"} 1\n';
  assert.equal(valueOf(parseExposition(ok), 'a_total', { k: 'v"q' }), 1);
  const bad = [
    'a 1\n', // undeclared
    '# TYPE a gauge\na 1', // no final newline
    '# TYPE a gauge\na{k="v} 1\n', // unterminated label
    '# TYPE a gauge\na{k="\\x"} 1\n', // bad escape
    '# TYPE a gauge\na one\n', // bad value
    '# TYPE a gauge\na 1\na 2\n', // duplicate series
    '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n', // split family
    '# TYPE a gauge\na 1\n# TYPE a gauge\n', // TYPE twice / after samples
    '# TYPE a widget\n', // unknown type
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    '# TYPE c counter\nc -1\n', // negative counter
  ];
  for (const b of bad) assert.throws(() => parseExposition(b), Error, JSON.stringify(b));
});

test('packet-ins are classified by EtherType, through VLAN tags', () => {
  const frame = (...types: number[]): Uint8Array => {
    const f = new Uint8Array(12 + types.length * 4 + 2);
    types.forEach((t, i) => {
      f[12 + i * 4] = t >> 8;
      f[13 + i * 4] = t & 0xff;
    });
    return f;
  };
  assert.equal(packetKind(frame(ETHERTYPE.LLDP)), 'lldp');
  assert.equal(packetKind(frame(ETHERTYPE.RARP)), 'rarp');
  assert.equal(packetKind(frame(ETHERTYPE.VLAN, ETHERTYPE.ARP)), 'arp');
  assert.equal(packetKind(frame(ETHERTYPE.QINQ, ETHERTYPE.VLAN, ETHERTYPE.IPV6)), 'ipv6');
  assert.equal(packetKind(new Uint8Array(10)), 'other');
});

/** Sources with just enough state for the scrape-time collectors. */
function fakeSources(o: { stats: () => Record<string, number> | undefined; cost: () => Cost }): MetricsSources {
  const dataPlane: DataPlane & { connectionStats(d: bigint): unknown } = {
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    connectionStats: () => o.stats(),
  };
  return {
    runtime: {
      controller: { disc: { links: new Map() }, hosts: { byMac: new Map() } },
      channels: new Map([[1n, {}]]),
      stats: { polls: 0, lastPollMs: 0, failures: 3 },
    } as unknown as MetricsSources['runtime'],
    service: { cost: o.cost, subscribe: () => () => true },
    dataPlane,
  };
}

test('OpenFlow errors stay monotonic when a switch reconnects; a cost that cannot be computed is NaN, not 0', async () => {
  const m = createStackMetrics({ clock: virtualClock() });
  let conn: Record<string, number> = { switchErrors: 2, malformed: 1 };
  let costFails = false;
  m.bind(
    fakeSources({
      stats: () => conn,
      cost: () => {
        if (costFails) throw new Error('no path');
        return { at: 0, cost: 42, layers: [{ layer: 1, activeLinks: 1, meanUtilisation: 0.5 }] };
      },
    }),
  );
  let f = parseExposition(await m.render());
  assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'switch_error' }), 2);
  assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'malformed_message' }), 1);
  assert.equal(valueOf(f, 'score_stats_poll_failures_total'), 3);
  assert.equal(valueOf(f, 'score_communication_cost'), 42);
  assert.equal(valueOf(f, 'score_layer_mean_utilisation_ratio', { layer: '1' }), 0.5);
  // a second scrape must not count the same errors again
  conn.switchErrors = 3;
  f = parseExposition(await m.render());
  assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'switch_error' }), 3);
  // a new connection starts its statistics at 0 again
  conn = { switchErrors: 1, malformed: 0 };
  costFails = true;
  f = parseExposition(await m.render());
  assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'switch_error' }), 4);
  assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'malformed_message' }), 1);
  assert.equal(valueOf(f, 'score_communication_cost'), NaN);
  assert.equal(f.get('score_layer_mean_utilisation_ratio')!.samples.length, 0);
});

test('two stacks in one process keep separate registries', async () => {
  const a = createStackMetrics({ clock: virtualClock() });
  const b = createStackMetrics({ clock: virtualClock() });
  a.apiRequest('GET', '/x', 200);
  assert.equal(valueOf(parseExposition(await a.render()), 'score_api_requests_total', { method: 'GET', route: '/x', status_code: '200' }), 1);
  assert.equal(sumOf(parseExposition(await b.render()), 'score_api_requests_total'), 0);
});

test('GET /metrics on a live stack: Prometheus text, token required, counters move with a Load-Aware run', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, settleMs: 2000 });
  let pumping = true;
  const pump = (async () => {
    while (pumping) {
      await clock.advance(250);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const agents: RunningAgent[] = [];
  const agentToken = await stack.issueAgentToken(model.scenario.hypervisors[0]!.id);
  const scrape = async (token: string | null = agentToken) => fetch(`${stack.apiUrl}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  const read = async () => {
    const res = await scrape();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(await res.text());
    for (const [name, type] of Object.entries(EXPECTED)) {
      assert.equal(families.get(name)?.type, type, name);
      assert.ok((families.get(name)?.help ?? '').length > 0, `${name} has help`);
    }
    return families;
  };
  try {
    const anonymous = await scrape(null);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'API_UNAUTHORIZED');
    assert.equal((await scrape('wrong')).status, 401);
    assert.equal((await scrape(stack.tokens.operator)).status, 200);

    sim.bootVms();
    await clock.sleep(4000);
    for (const h of model.scenario.hypervisors) agents.push(await startAgent({ hypervisor: h.id, apiUrl: stack.apiUrl, token: await stack.issueAgentToken(h.id), driver: simDriver(sim) }));
    assert.equal((await fetch(`${stack.apiUrl}/api/v1/no/such/route/4711`, { headers: { authorization: `Bearer ${agentToken}` } })).status, 404);

    const before = await read();
    assert.equal(valueOf(before, 'score_switches_connected'), model.scenario.switches.length + model.scenario.hypervisors.length);
    assert.equal(valueOf(before, 'score_links_discovered'), model.topology.links.length);
    assert.equal(valueOf(before, 'score_hosts_known'), model.vmInfo.size);
    assert.ok(valueOf(before, 'score_packet_ins_total', { kind: 'lldp' })! > 0, 'discovery probes came back as packet-ins');
    assert.ok(valueOf(before, 'score_communication_cost')! > 0, 'valueOf(before, \'score_communication_cost\')! > 0');
    assert.equal(sumOf(before, 'score_migrations_total'), 0);
    assert.ok(valueOf(before, 'score_stats_poll_duration_seconds', {}, 'score_stats_poll_duration_seconds_count')! > 0, 'valueOf(before, \'score_stats_poll_duration_seconds\', {}, \'score_stats_poll_duration_sec...');
    assert.equal(valueOf(before, 'score_api_requests_total', { method: 'GET', route: '/metrics', status_code: '401' }), 2);
    assert.equal(valueOf(before, 'score_api_requests_total', { method: 'POST', route: '/api/v1/agents/register', status_code: '200' }), model.scenario.hypervisors.length);
    // the raw URL of an unmatched request must not become a label value
    assert.equal(valueOf(before, 'score_api_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
    assert.ok(!before.get('score_api_requests_total')!.samples.some((s) => s.labels.route!.includes('4711')), '!before.get(\'score_api_requests_total\')!.samples.some((s) => s.labels.route!.includes(\'...');

    const started = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ policy: 'load-aware' }),
    });
    assert.equal(started.status, 200);
    await stack.service.orchestrator.finished();

    const after = await read();
    const records = stack.service.migrations();
    assert.equal(valueOf(after, 'score_migrations_total', { status: 'succeeded' }), 6);
    assert.equal(valueOf(after, 'score_migrations_total', { status: 'started' }), 6);
    assert.equal(valueOf(after, 'score_migrations_total', { status: 'declined' }), records.filter((r) => r.status === 'declined').length);
    assert.equal(valueOf(after, 'score_migrations_total', { status: 'failed' }), 0);
    assert.equal(valueOf(after, 'score_decision_duration_seconds', { outcome: 'answered' }, 'score_decision_duration_seconds_count'), records.length);
    assert.ok(sumOf(after, 'score_packet_ins_total') > sumOf(before, 'score_packet_ins_total'), 'sumOf(after, \'score_packet_ins_total\') > sumOf(before, \'score_packet_ins_total\')');
    assert.ok(valueOf(after, 'score_packet_ins_total', { kind: 'rarp' })! >= 6, 'each migrated VM announced itself');
    assert.equal(valueOf(after, 'score_communication_cost'), 0);
    assert.equal(valueOf(after, 'score_layer_mean_utilisation_ratio', { layer: '3' }), 0);
    assert.ok(sumOf(after, 'score_api_requests_total') > sumOf(before, 'score_api_requests_total'), 'sumOf(after, \'score_api_requests_total\') > sumOf(before, \'score_api_requests_total\')');
    assert.equal(valueOf(after, 'score_api_requests_total', { method: 'POST', route: '/api/v1/orchestration/start', status_code: '200' }), 1);
    assert.equal(valueOf(after, 'score_api_requests_total', { method: 'GET', route: '/metrics', status_code: '200' }), 2);
    assert.equal(sumOf(after, 'score_openflow_errors_total'), 0);
  } finally {
    pumping = false;
    await pump;
    await Promise.all(agents.map((a) => a.stop()));
    await stack.stop();
  }
});

test('OpenFlow errors from a real OpenFlow data plane: switch ERRORs and undecodable messages, across a reconnect', async () => {
  const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1' });
  // no statistics round or probe during the test: the fake switch would not answer them
  const stack = await startStack({ dataPlane, clock: realClock, pollMs: 600_000, probeMs: 600_000 });
  const switches: FakeSwitch[] = [];
  const metrics = async () => parseExposition(await stack.metrics.render());
  try {
    let sw = await FakeSwitch.up(dataPlane.address().port, 0x42n);
    switches.push(sw);
    await until(() => stack.runtime.channels.size === 1, 'switch up');
    sw.send({ type: 'ERROR', xid: 0, errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, data: new Uint8Array(8) });
    sw.sendRaw(Uint8Array.from([0x04, 99, 0x00, 0x0c, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]));
    await until(() => dataPlane.connectionStats(0x42n)?.malformed === 1 && dataPlane.connectionStats(0x42n)?.switchErrors === 1, 'both errors seen');
    let f = await metrics();
    assert.equal(valueOf(f, 'score_switches_connected'), 1);
    assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'switch_error' }), 1);
    assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'malformed_message' }), 1);

    sw.close();
    await until(() => stack.runtime.channels.size === 0, 'switch down');
    sw = await FakeSwitch.up(dataPlane.address().port, 0x42n);
    switches.push(sw);
    await until(() => stack.runtime.channels.size === 1, 'switch up again');
    sw.send({ type: 'ERROR', xid: 0, errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, data: new Uint8Array(8) });
    await until(() => dataPlane.connectionStats(0x42n)?.switchErrors === 1, 'error on the new connection');
    f = await metrics();
    assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'switch_error' }), 2);
    assert.equal(valueOf(f, 'score_openflow_errors_total', { code: 'malformed_message' }), 1);
  } finally {
    for (const s of switches) s.close();
    await stack.stop();
  }
});
