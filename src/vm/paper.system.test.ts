/**
 * The paper's experiment with real guests (issue 11), reduced to one policy for CI time: the VMs
 * with traffic are QEMU guests that generate the Table II flows themselves, the agents (one
 * `score agent --driver qemu` process per hypervisor) live-migrate them through QMP, and the run
 * must match the simulated one step for step. Needs root, Open vSwitch, QEMU, busybox-static and
 * apt-get; mandatory in CI. About 3 minutes. The full form: `score emulate --scenario paper --vms
 * qemu --policy both`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemTestGate } from '../emulation/system-gate.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate } from '../sim/run.ts';
import { guestVms, runEmulatedExperiment } from '../system/emulated-experiment.ts';

const gate = systemTestGate({ root: true, tools: ['ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ip', 'ping', 'tc', 'ethtool', 'python3', 'qemu-system-x86_64', 'busybox', 'apt-get', 'dpkg-deb'] });
const skip = gate.skip === false ? false : gate.skip;

test('paper experiment with live-migrated QEMU guests (load-aware): cost 0 in 6 migrations, the simulated step table, QEMU figures for each', { skip, timeout: 900_000 }, async () => {
  const { model, file } = loadScenarioFile('paper');
  assert.deepEqual(guestVms(model), ['vm1', 'vm2', 'vm3', 'vm5', 'vm6', 'vm9', 'vm10', 'vm11', 'vm21', 'vm22', 'vm23']);
  const r = await runEmulatedExperiment({ model, file, policy: 'load-aware', vms: 'qemu', out: (s) => console.log(s) });
  const m = simulate(model, { policy: 'load-aware', file });
  // what went on, for a CI log to explain a failure
  console.log(`  steps ${JSON.stringify(r.record.steps.map((s) => [s.vm, s.to]))}, final cost ${r.record.finalCost}`);
  for (const l of r.losses) console.log(`  ${l.vm} -> ${l.to}: ${JSON.stringify(l.figures)}`);
  assert.equal(r.record.migrations, 6);
  assert.ok(Math.abs(r.record.finalCost) < 1e-6, `final cost ${r.record.finalCost}`);
  assert.deepEqual(r.record.steps.map((s) => [s.vm, s.to]), m.steps.map((s) => [s.vm, s.to]), 'the same step table as the simulated run');
  assert.equal(r.losses.length, 6);
  for (const l of r.losses) {
    assert.equal(l.figures?.source, 'qemu', `${l.vm}: QEMU's own figures`);
    assert.ok(l.figures.transferredBytes > 1_000_000 && l.figures.totalTimeMs > 0, `${l.vm}: memory was copied`);
    assert.ok(l.received > 0, `${l.vm}: answers the probes after the move`);
  }
});
