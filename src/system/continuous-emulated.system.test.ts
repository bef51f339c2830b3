/**
 * Continuous S-CORE on the emulated data centre (Open vSwitch, namespaces, nping): the paper's
 * scenario whose pairs change partners at 120 s (the first phase needs 5-6 periods of 10-25 s
 * each on a loaded machine: every migration waits settleMs inside its period). Real OpenFlow, real generators switching at the phase, agents migrating by re-cabling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { systemTestGate } from '../emulation/system-gate.ts';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { openflowDataPlane } from '../openflow/connection/index.ts';
import { silentLog } from '../openflow/connection/log.ts';
import { realClock } from '../runtime/clock.ts';
import { startAgent, startStack, type RunningAgent } from './stack.ts';
import { buildDataCentre, type DataCentre } from '../emulation/datacentre.ts';
import { startTimedTraffic, type TimedTrafficHandle } from '../emulation/timed-traffic.ts';
import { links as discoveredLinks } from '../controller/discovery.ts';
import * as ctl from '../controller/controller.ts';
import { emulatedDriver } from '../agent/drivers/emulated.ts';
import { flowsAt } from '../scenario/timeline.ts';
import { minimumMigrationsToColocate } from '../sim/phased.ts';
import { countOscillations } from '../orchestrator/continuous.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'nping', 'ping', 'tc', 'ethtool', 'ss'] });
const CHANGE_S = 120;
const NO_RETURN = 8;

async function until(cond: () => boolean, ms: number, what: string, why: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what} did not happen within ${ms} ms${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('emulated paper-phases: continuous S-CORE re-converges to cost 0 after the partner change, with the fewest migrations', { skip: gate.skip, timeout: 700_000 }, async (t) => {
  const { file } = loadScenarioFile('paper-phases');
  const model = buildModel(parseScenario(readFileSync(file, 'utf8').replace('  - at: 120', `  - at: ${CHANGE_S}`), file));
  const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog });
  const stack = await startStack({ model, dataPlane, clock: realClock, settleMs: 6500, confirmMs: 5000, rateTolerance: 0.05 });
  let dc: DataCentre | undefined;
  let traffic: TimedTrafficHandle | undefined;
  const agents: RunningAgent[] = [];
  try {
    dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: true });
    const c = stack.runtime.controller;
    await until(() => stack.runtime.channels.size === model.topology.nodes.size, 10_000, 'every switch connecting');
    await until(() => discoveredLinks(c.disc).length === model.topology.links.length, 10_000, 'discovery of every link');
    await Promise.all(model.vms.map((vm) => dc!.announce(vm, 1)));
    await until(() => c.hosts.byMac.size === model.vms.length, 10_000, 'every VM being seen');
    traffic = await startTimedTraffic(dc);
    const t0 = Date.now();
    await until(() => ctl.pairRates(c, Date.now()).filter((r) => r.bytesPerSecond > 0).length >= model.flows.length, 20_000, 'rates measured for every flow');
    for (const h of model.scenario.hypervisors) agents.push(await startAgent({ hypervisor: h.id, apiUrl: stack.apiUrl, token: await stack.issueAgentToken(h.id), driver: emulatedDriver({ model, prefix: dc.prefix, dc }) }));
    const res = await fetch(`${stack.apiUrl}/api/v1/orchestration/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.operator}`, 'content-type': 'application/json' },
      // no-return over 8 periods, not the default 20: see the wait below
      body: JSON.stringify({ policy: 'la', continuous: { everyMs: 5000, stableRounds: 3, noReturnRounds: NO_RETURN, memoryBytes: 65536, dirtyRateBytesPerSec: 0, quietMs: 5000 } }),
    });
    assert.equal(res.status, 200, await res.text());
    const o = stack.service.orchestrator;
    const moved = () => o.records.filter((r) => r.status === 'succeeded');
    await until(() => Date.now() - t0 >= (CHANGE_S - 2) * 1000, CHANGE_S * 1000, 'the change approaching');
    const before = moved().length;
    const periodAtChange = o.continuousState()?.period ?? 0;
    const costBefore = stack.service.cost().cost;
    const atChange = new Map(stack.service.snapshot().placement);
    assert.ok(o.records.every((r) => r.status !== 'started'), 'no migration in flight at the change');
    const min = minimumMigrationsToColocate(atChange, flowsAt(model.timeline, CHANGE_S + 1));
    // after the change: wait for the minimum number of moves, then for a quiet half-minute.
    // What made re-converging take 30-60 periods was not the stable rule (choices held steady,
    // 3 periods each) but no-return: the new pairs' cheapest re-placement can send a VM back to the
    // hypervisor it left in the first phase, barred for the whole window (20 periods by default,
    // and a period here lasts 10-20 s: every migration waits settleMs inside it). The bar is a
    // guard against ping-pong, so the test keeps it, over 8 periods, and counts oscillations over
    // the same window.
    // On failure, say what continuous mode did: its moves, holds (HOLD_OFF reasons) and errors
    const story = (): string =>
      `; records: ${o.records
        .slice(-40)
        .map((r) => `${r.vm}:${r.status}${r.to !== null ? `->${r.to}` : ''}@${r.round}${r.error ? ` ${r.error.code} ${r.error.message}` : ''}`)
        .join(' | ')}`;
    await until(() => moved().length - before >= min, 240_000, `${min} migrations after the change`, story);
    await new Promise((r) => setTimeout(r, 30_000));
    const moves = moved().map((r) => ({ vm: r.vm, from: r.from, to: r.to!, period: r.round }));
    // how long re-converging took, in periods, and what held choices back meanwhile
    t.diagnostic(`change in period ${periodAtChange}; last move in period ${moves.at(-1)?.period ?? '-'}${story()}`);
    const show = moves.map((m) => `${m.vm}:${m.from}->${m.to}@${m.period}`).join(' ');
    assert.equal(before, 6, `the first phase converges as in the paper: ${show}`);
    assert.ok(Math.abs(costBefore) < 1e-6, `cost before the change ${costBefore}`);
    assert.equal(traffic.segment(), 1);
    assert.equal(moves.length - before, min, show);
    const cost = stack.service.cost();
    assert.ok(Math.abs(cost.cost) < 1e-6, `measured cost after the change ${cost.cost}`);
    assert.equal(countOscillations(moves, NO_RETURN), 0);
    assert.equal(o.records.filter((r) => r.status === 'failed' || r.status === 'timeout').length, 0);
    // at cost 0, the next planning period that moves nothing says converged (the trial saw false for 45+ periods)
    await until(() => o.status().converged, 60_000, 'converged at cost 0', () => `; ${JSON.stringify(o.status())}${story()}`);
    assert.equal(o.status().continuous?.lastPeriod?.moved, 0);
    await o.stop();
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await traffic?.stop();
    await dc?.stop();
    await stack.stop();
  }
});
