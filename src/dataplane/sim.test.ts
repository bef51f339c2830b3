import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { virtualClock } from '../runtime/clock.ts';
import { startRuntime } from '../runtime/controller-runtime.ts';
import { createSimDataPlane } from './sim.ts';
import * as ctl from '../controller/controller.ts';
import { links } from '../controller/discovery.ts';

async function paperRuntime() {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock });
  const runtime = await startRuntime({
    dataPlane: sim.dataPlane,
    clock,
    controller: {
      nonce: new Uint8Array([9, 9, 9, 9, 1, 2, 3, 4]),
      names: new Map([...sim.dpidOf].map(([n, d]) => [d, n])),
      hypervisors: new Set(model.scenario.hypervisors.map((h) => sim.dpidOf.get(h.id)!)),
    },
  });
  return { model, clock, sim, runtime };
}

test('the real controller over the simulated data plane: discovery, hosts, measured rates of Table II', async () => {
  const { model, clock, sim, runtime } = await paperRuntime();
  await clock.advance(10);
  assert.equal(links(runtime.controller.disc).length, 24);
  sim.bootVms();
  await clock.advance(5000);
  assert.equal(runtime.controller.hosts.byMac.size, 24);
  const all = ctl.pairRates(runtime.controller, clock.now());
  // both directions of each pair have a path; the reverse ones measure 0 (nping-style one-way streams here)
  assert.equal(all.length, 12);
  const rates = all.filter((r) => r.bytesPerSecond > 0);
  const macToVm = new Map([...model.vmInfo].map(([vm, i]) => [i.mac, vm]));
  const measured = rates.map((r) => `${macToVm.get(r.src)}>${macToVm.get(r.dst)}`).sort();
  assert.deepEqual(measured, model.flows.map((f) => `${f.src}>${f.dst}`).sort());
  for (const r of rates) {
    assert.ok(Math.abs(r.bytesPerSecond - 500) <= 5, `${r.src}>${r.dst}: ${r.bytesPerSecond} B/s`);
    assert.ok(r.ageMs <= 1000, 'r.ageMs <= 1000');
  }
  // the path monitor sees Table II's path costs
  assert.deepEqual(rates.map((r) => r.pathWeight).sort((a, b) => a - b), [2, 6, 6, 12, 12, 12]);
  assert.equal(sim.counters.loops, 0);
  // per-link utilisation from port counters: the core links of the two cross-pod paths are busy
  const util = ctl.linkUtilisation(runtime.controller).filter((l) => l.layer === 3 && l.abBps + l.baBps > 0);
  assert.ok(util.length >= 1, 'util.length >= 1');
  await runtime.stop();
});

test('a VM moved in the simulated data plane is found again and its flow follows it', async () => {
  const { model, clock, sim, runtime } = await paperRuntime();
  await clock.advance(10);
  sim.bootVms();
  await clock.advance(3000);
  sim.moveVm('vm3', 'hv23');
  await clock.advance(3000);
  const vm3 = model.vmInfo.get('vm3')!.mac;
  assert.equal(runtime.controller.view.nameOf(runtime.controller.hosts.byMac.get(vm3)!.at.dpid), 'hv23');
  const r = ctl.pairRates(runtime.controller, clock.now()).find((x) => x.src === vm3);
  assert.ok(r, 'vm3 -> vm23 measured after the move');
  assert.equal(r.pathWeight, 0);
  assert.ok(Math.abs(r.bytesPerSecond - 500) <= 5, 'Math.abs(r.bytesPerSecond - 500) <= 5');
  await runtime.stop();
});
