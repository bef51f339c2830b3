/**
 * Issue 14 on a real emulated data centre (Open vSwitch, userspace datapath, namespaces): with
 * every useful single move blocked (scenarios/swap.yaml), agents propose exchanges and the
 * controller carries each out as single live migrations through a free slot. Needs root and Open
 * vSwitch: skipped with a reason otherwise, mandatory under SCORE_REQUIRE_SYSTEM_TESTS=1 (CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemTestGate } from '../emulation/system-gate.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { runEmulatedExperiment } from './emulated-experiment.ts';
import { simulate } from '../sim/run.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'nping', 'ping', 'tc', 'ethtool'] });
const skip = gate.skip === false ? false : gate.skip;

test('exchanges on Open vSwitch: blocked single moves, pairs carried out one migration at a time, never over capacity, every moved VM reachable again, the audit log explains each pair', { skip, timeout: 300_000 }, async () => {
  const { model, file } = loadScenarioFile('swap');
  // without exchanges nothing can move (the model planner, same decisions as the agents)
  assert.equal(simulate(model, { policy: 'load-aware', file }).migrations, 0);
  const r = await runEmulatedExperiment({ model, file, policy: 'load-aware', swaps: true });
  assert.ok(r.exchanges.length >= 1, 'at least one exchange');
  for (const x of r.exchanges) {
    assert.equal(x.status, 'succeeded', x.reason);
    assert.match(x.reason, /^exchange with vm\d+: hv\d+ is full, so vm\d+ goes hv\d+ -> hv\d+ and vm\d+ goes hv\d+ -> hv\d+; .* C_A drops by /);
  }
  assert.equal(r.record.migrations, 3 * r.exchanges.length, 'each exchange is 3 migrations through a free slot');
  assert.ok(r.record.finalCost < 0.5 * r.record.initialCost, `cost ${r.record.initialCost} -> ${r.record.finalCost}`);
  // replay the confirmed migrations: never over capacity, each VM in exactly one place
  const placement = new Map(model.placement);
  for (const s of r.record.steps) {
    placement.set(s.vm, s.to);
    const n = new Map<string, number>();
    for (const h of placement.values()) n.set(h, (n.get(h) ?? 0) + 1);
    for (const [h, k] of n) assert.ok(k <= model.capacity.get(h)!, `step ${s.step}: ${h} holds ${k}`);
  }
  assert.equal(placement.size, model.vms.length);
  // every migrating VM with peers is reached again after its blackout
  for (const l of r.losses.filter((x) => x.sent > 0)) assert.ok(l.received > 0, `${l.vm} -> ${l.to}: peers reach it again`);
});
