import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioDpids } from './dpids.ts';
import { planDataCentre } from '../emulation/datacentre.ts';
import { loadScenarioFile } from './load.ts';
import { buildModel } from './model.ts';

test('dpids: explicit ones kept, the rest the lowest free numbers; the emulated plan agrees', () => {
  const { scenario } = loadScenarioFile('paper');
  const s = {
    ...scenario,
    switches: scenario.switches.map((x, i) => (i % 2 === 0 ? { id: x.id, role: x.role } : { ...x, dpid: i === 1 ? '0x2' : x.dpid })),
    hypervisors: scenario.hypervisors.map((h) => ({ id: h.id })),
  };
  const d = scenarioDpids(s);
  assert.equal(d.get('c2'), 2n);
  assert.equal(d.get('c1'), 1n);
  assert.equal(d.get('a1'), 3n);
  assert.equal(new Set(d.values()).size, d.size);
  const plan = planDataCentre(buildModel(s), 'sczzzz');
  for (const b of plan.bridges) assert.equal(BigInt(`0x${b.dpid}`), d.get(b.node), b.node);
});
