import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartScale, layoutTopology, naturalCompare, niceMax, rowLabel, utilisationColour, utilisationWidth } from './client/layout.ts';

// The paper's tree in miniature: 2 cores, 2 aggregation, 2 ToR, 4 hypervisors.
const sw = (name: string, layer: number, kind: 'hypervisor' | 'switch' = 'switch') => ({ name, layer, kind });
const SWITCHES = [sw('c1', 3), sw('c2', 3), sw('a2', 2), sw('a1', 2), sw('t2', 1), sw('t1', 1), sw('hv10', 0, 'hypervisor'), sw('hv9', 0, 'hypervisor'), sw('hv11', 0, 'hypervisor'), sw('hv12', 0, 'hypervisor')];
const l = (a: string, b: string) => ({ a: { switch: a }, b: { switch: b } });
const LINKS = [l('hv9', 't1'), l('hv10', 't1'), l('hv11', 't2'), l('hv12', 't2'), l('t1', 'a1'), l('t2', 'a2'), l('a1', 'c1'), l('a1', 'c2'), l('a2', 'c1'), l('a2', 'c2')];

test('layers are rows, core on top, hypervisors in natural name order at the bottom', () => {
  const lay = layoutTopology(SWITCHES, LINKS);
  const y = (n: string) => lay.nodes.get(n)!.y;
  assert.ok(y('c1') < y('a1') && y('a1') < y('t1') && y('t1') < y('hv9'), 'y(\'c1\') < y(\'a1\') && y(\'a1\') < y(\'t1\') && y(\'t1\') < y(\'hv9\')');
  assert.equal(y('c1'), y('c2'));
  const hvs = ['hv9', 'hv10', 'hv11', 'hv12'];
  const xs = hvs.map((h) => lay.nodes.get(h)!.x);
  assert.deepEqual([...xs].sort((a, b) => a - b), xs, 'hv9 left of hv10 (numeric, not string order)');
  // a ToR sits above its own hypervisors' side: t1 left of t2 although listed after it
  assert.ok(lay.nodes.get('t1')!.x < lay.nodes.get('t2')!.x, 'lay.nodes.get(\'t1\')!.x < lay.nodes.get(\'t2\')!.x');
  assert.ok(lay.nodes.get('a1')!.x < lay.nodes.get('a2')!.x, 'lay.nodes.get(\'a1\')!.x < lay.nodes.get(\'a2\')!.x');
  assert.deepEqual(lay.rows.map((r) => r.label), ['core', 'aggregation', 'ToR', 'hypervisors', 'VMs']);
  // VMs stack under their hypervisor inside the drawing
  const v0 = lay.vmSlot('hv11', 0);
  const v2 = lay.vmSlot('hv11', 2);
  assert.equal(v0.x, lay.nodes.get('hv11')!.x);
  assert.ok(v0.y > y('hv11') && v2.y > v0.y && v2.y < lay.height, 'v0.y > y(\'hv11\') && v2.y > v0.y && v2.y < lay.height');
});

test('switches discovery could not place get their own row instead of vanishing', () => {
  const lay = layoutTopology([...SWITCHES, { name: 'lost', kind: 'switch', layer: null }], LINKS);
  assert.ok(lay.nodes.has('lost'), 'lay.nodes.has(\'lost\')');
  assert.equal(lay.rows[0]!.label, 'unplaced');
  assert.equal(rowLabel(2, 2), 'core');
});

test('scales: colour and width grow with utilisation relative to the busiest link; axes round up', () => {
  assert.equal(utilisationColour(0, 0.5), '#c3c8d0');
  assert.equal(utilisationColour(0.5, 0.5), 'hsl(0, 75%, 42%)');
  assert.equal(utilisationColour(0.25, 0.5), 'hsl(60, 75%, 42%)');
  assert.ok(utilisationWidth(0.5, 0.5) > utilisationWidth(0.1, 0.5), 'utilisationWidth(0.5, 0.5) > utilisationWidth(0.1, 0.5)');
  assert.deepEqual([niceMax(25000), niceMax(0.0016), niceMax(0), niceMax(7)], [25000, 0.002, 1, 10]);
  const s = chartScale([0, 10], [0, 25000], 600, 220);
  assert.ok(s.y(25000) < s.y(0), 'higher values draw higher');
  assert.ok(s.x(10) > s.x(0), 's.x(10) > s.x(0)');
  assert.equal(naturalCompare('vm2', 'vm10') < 0, true);
});
