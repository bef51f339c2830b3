/**
 * An agent's switch-over report for a VM of the scenario that the controller does not hold now
 * (its source port went down under the paused move, or a new leader has not heard it yet) places
 * the VM by its known MAC instead of refusing it UNKNOWN_VM; a VM nobody knows is still refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane } from '../dataplane/sim.ts';
import { virtualClock } from '../runtime/clock.ts';
import { startStack } from '../system/stack.ts';
import { isScoreError } from '../errors/errors.ts';

test('migrationDone places a known VM the controller does not hold by its MAC; an unknown VM or no port is UNKNOWN_VM', async () => {
  const { model } = loadScenarioFile('paper');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const stack = await startStack({ model, dataPlane: sim.dataPlane, clock, webDir: null });
  try {
    const hv = stack.service.hypervisors()[0]!.name;
    assert.equal(stack.service.hosts().some((h) => h.vm === 'vm1'), false, 'the controller does not hold vm1');
    const h = stack.service.migrationDone('vm1', hv, 'm1', 40);
    assert.deepEqual({ vm: h.vm, mac: h.mac, hypervisor: h.hypervisor, port: h.port }, { vm: 'vm1', mac: model.vmInfo.get('vm1')!.mac, hypervisor: hv, port: 40 });
    assert.equal(stack.service.hosts().find((x) => x.vm === 'vm1')?.hypervisor, hv);
    assert.throws(() => stack.service.migrationDone('no-such-vm', hv, 'm2', 41), (e: unknown) => isScoreError(e, 'UNKNOWN_VM'));
    assert.throws(() => stack.service.migrationDone('vm2', hv, 'm3'), (e: unknown) => isScoreError(e, 'UNKNOWN_VM'), 'no port: nothing to place it at');
  } finally {
    await stack.stop();
  }
});
