/**
 * Faults on the whole system (simulated data plane, real HTTP between controller and agents):
 * a failing driver, an agent that dies mid-migration, a controller restart. The audit log and
 * the VM tracker must stay truthful: a VM is always at exactly one known place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile } from '../scenario/load.ts';
import { createSimDataPlane, type SimDataPlane } from '../dataplane/sim.ts';
import { virtualClock, type VirtualClock } from '../runtime/clock.ts';
import { simDriver } from '../agent/drivers/sim.ts';
import type { MigrationDriver } from '../agent/drivers/driver.ts';
import { startAgent, startStack, type RunningAgent, type Stack } from './stack.ts';
import { auditFile } from '../service/audit-file.ts';
import { ScoreError } from '../errors/errors.ts';

const { model } = loadScenarioFile('paper');

async function system(o: { clock: VirtualClock; sim: SimDataPlane; driverFor: (hv: string, agents: Map<string, RunningAgent>) => MigrationDriver; auditPath?: string }) {
  const stack = await startStack({ model, dataPlane: o.sim.dataPlane, clock: o.clock, settleMs: 2000, confirmMs: 3000, ...(o.auditPath ? { auditPath: o.auditPath } : {}) });
  let pumping = true;
  const pump = (async () => {
    while (pumping) {
      await o.clock.advance(250);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const agents = new Map<string, RunningAgent>();
  return {
    stack,
    agents,
    async boot() {
      o.sim.bootVms();
      await o.clock.sleep(4000);
      for (const h of model.scenario.hypervisors) agents.set(h.id, await startAgent({ hypervisor: h.id, apiUrl: stack.apiUrl, token: await stack.issueAgentToken(h.id), driver: o.driverFor(h.id, agents) }));
    },
    async run(policy: 'round-robin' | 'load-aware') {
      stack.service.startOrchestration({ policy });
      await stack.service.orchestrator.finished();
    },
    async stop() {
      pumping = false;
      await pump;
      await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
      await stack.stop();
    },
  };
}

/** Every VM the tracker knows is where the (simulated) wiring has it. */
function trackerTruthful(stack: Stack, sim: SimDataPlane): void {
  for (const h of stack.service.hosts()) assert.equal(h.hypervisor, sim.hostOf(h.vm), `${h.vm}: tracker ${h.hypervisor}, wiring ${sim.hostOf(h.vm)}`);
}

test('a failing migration driver: the VM stays, the audit log says MIGRATION_FAILED, the rest converges', async () => {
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const s = await system({ clock, sim, driverFor: () => simDriver(sim, { fail: (vm) => vm === 'vm3' }) });
  try {
    await s.boot();
    await s.run('load-aware');
    const records = s.stack.service.migrations();
    const failed = records.filter((r) => r.status === 'failed');
    assert.ok(failed.length >= 1 && failed.every((r) => r.vm === 'vm3' && r.error?.code === 'MIGRATION_FAILED'), JSON.stringify(failed.map((r) => [r.vm, r.error])));
    assert.equal(sim.hostOf('vm3'), 'hv16');
    assert.ok(records.some((r) => r.status === 'succeeded'), 'records.some((r) => r.status === \'succeeded\')');
    trackerTruthful(s.stack, sim);
  } finally {
    await s.stop();
  }
});

test('an agent that dies in the middle of a migration: recorded as failed, the tracker follows the network', async () => {
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  let killed = false;
  const s = await system({
    clock,
    sim,
    driverFor: (hv, agents) => ({
      name: 'dies',
      async migrate(vm, from, to) {
        if (!killed && hv === 'hv16') {
          killed = true;
          // the VM is re-cabled (the hypervisor did its part), then the agent process dies
          sim.moveVm(vm, to);
          await agents.get(hv)!.stop();
          throw new ScoreError('MIGRATION_FAILED', 'agent gone');
        }
        return simDriver(sim).migrate(vm, from, to);
      },
    }),
  });
  try {
    await s.boot();
    await s.run('round-robin');
    const first = s.stack.service.migrations().find((r) => r.from === 'hv16' && r.status !== 'declined');
    assert.ok(first, 'a migration from hv16 was attempted');
    assert.equal(first.status, 'failed');
    assert.ok(['AGENT_UNREACHABLE', 'MIGRATION_FAILED'].includes(first.error?.code ?? ''), first.error?.code);
    // the VM did move on the wire: the tracker learnt it from its announcement, not from the dead agent
    await clock.sleep(1000);
    trackerTruthful(s.stack, sim);
    assert.equal(s.stack.service.hypervisorOf(first.vm), sim.hostOf(first.vm));
  } finally {
    await s.stop();
  }
});

test('a controller restart: the audit log is restored and the tracker relearns where VMs are', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-restart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const auditPath = join(dir, 'audit.jsonl');
  const clock = virtualClock();
  const sim = createSimDataPlane({ model, clock, stepMs: 250 });
  const first = await system({ clock, sim, driverFor: () => simDriver(sim), auditPath });
  let before: string[] = [];
  try {
    await first.boot();
    await first.run('load-aware');
    before = first.stack.service.migrations().filter((r) => r.status === 'succeeded').map((r) => `${r.id}:${r.vm}->${r.to}`);
    assert.equal(before.length, 6);
  } finally {
    await first.stop();
  }
  const second = await system({ clock, sim, driverFor: () => simDriver(sim), auditPath });
  try {
    assert.deepEqual(second.stack.service.migrations().filter((r) => r.status === 'succeeded').map((r) => `${r.id}:${r.vm}->${r.to}`), before, 'history survives');
    // the new controller knows no VM until the network shows them; traffic does that
    await clock.sleep(3000);
    const known = second.stack.service.hosts();
    assert.ok(known.length >= 6, `${known.length} VMs relearnt from traffic`);
    trackerTruthful(second.stack, sim);
    assert.equal(auditFile(auditPath).load().length, second.stack.service.migrations().length);
  } finally {
    await second.stop();
  }
});
