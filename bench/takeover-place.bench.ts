/**
 * A new cluster leader placing the quiet hosts of its predecessor's view (src/cluster/attach.ts
 * installPaths): one `vmMoved` per host (a view rebuild and a walk of the wanted directions each)
 * against one `placeHosts` (one rebuild), on the switches of fat-tree(16) (320 switches, links
 * discovered) with 8 hosts per edge switch (1,024 hosts). Each way runs on its own fresh
 * controller, alternately, `--repeats` times. Prints one JSON object (ms: medians and every run).
 *   node --import tsx bench/takeover-place.bench.ts [--k 16] [--hosts-per-edge 8] [--repeats 3]
 */
import { parseArgs } from 'node:util';
import * as ctl from '../src/controller/controller.ts';
import { fatTreeHarness } from '../src/controller/fat-tree-fabric.testing.ts';
import { median } from './support.ts';

const { values } = parseArgs({
  options: { k: { type: 'string', default: '16' }, 'hosts-per-edge': { type: 'string', default: '8' }, repeats: { type: 'string', default: '3' } },
});
const k = Number(values.k);
const perEdge = Number(values['hosts-per-edge']);
const repeats = Number(values.repeats);

function run(way: 'one-by-one' | 'all-at-once'): { ms: number; switches: number; links: number; hosts: number } {
  const h = fatTreeHarness(k, perEdge);
  const places = h.hosts.map((mac) => ({ mac, at: h.fabric.hosts.get(mac)! }));
  const t0 = performance.now();
  if (way === 'one-by-one') for (const p of places) ctl.vmMoved(h.controller, p.mac, p.at, 1);
  else ctl.placeHosts(h.controller, places, 1);
  const ms = performance.now() - t0;
  if (h.controller.hosts.byMac.size !== places.length) throw new Error('not every host placed');
  return { ms, switches: h.controller.disc.switches.size, links: h.controller.disc.links.size, hosts: places.length };
}

const one: number[] = [];
const all: number[] = [];
let shape = { switches: 0, links: 0, hosts: 0 };
for (let i = 0; i < repeats; i++) {
  const a = run('one-by-one');
  const b = run('all-at-once');
  one.push(a.ms);
  all.push(b.ms);
  shape = { switches: a.switches, links: a.links, hosts: a.hosts };
}
const r = (x: number): number => Math.round(x * 10) / 10;
console.log(
  JSON.stringify({
    bench: 'takeover-place',
    topology: `fat-tree(${k}) switches`,
    ...shape,
    oneByOneMs: { median: r(median(one)), runs: one.map(r) },
    allAtOnceMs: { median: r(median(all)), runs: all.map(r) },
    ratio: r(median(one) / median(all)),
  }),
);
