import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { threeTier, fatTree, leafSpine } from '../topologies/generate.ts';
import { createPathOracle } from './paths.ts';
import { build } from './build.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { isScoreError } from '../errors/errors.ts';
import type { TopoNode, LinkSpec } from './topology.ts';

test("paper scenario: path costs are Table II's column (2, 6, 12) and 0 on the same hypervisor", () => {
  const { model } = loadScenarioFile('paper');
  const o = model.oracle;
  assert.equal(o.cost('hv16', 'hv16'), 0);
  assert.equal(o.cost('hv16', 'hv17'), 2);
  assert.equal(o.cost('hv16', 'hv19'), 6);
  assert.equal(o.cost('hv16', 'hv23'), 12);
  assert.equal(o.cost('hv18', 'hv23'), 12);
  assert.deepEqual(
    o.path('hv16', 'hv23').map((l) => l.id),
    ['hv16-t1', 'a1-t1', 'a1-c1', 'a3-c1', 'a3-t4', 'hv23-t4'],
  );
  assert.deepEqual(o.path('hv23', 'hv16').map((l) => l.id), ['hv23-t4', 'a3-t4', 'a3-c1', 'a1-c1', 'a1-t1', 'hv16-t1']);
});

/** A random connected graph with hypervisors and switches, for checking against Floyd-Warshall. */
const randomGraph = fc
  .record({
    switches: fc.integer({ min: 1, max: 6 }),
    hvs: fc.integer({ min: 2, max: 5 }),
    extra: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 5 })), { maxLength: 12 }),
    tree: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 5 })), { minLength: 12, maxLength: 12 }),
  })
  .map(({ switches, hvs, extra, tree }) => {
    const sw = Array.from({ length: switches }, (_, i) => `s${i}`);
    const hv = Array.from({ length: hvs }, (_, i) => `h${i}`);
    const nodes: TopoNode[] = [...sw.map((id) => ({ id, kind: 'switch' as const })), ...hv.map((id) => ({ id, kind: 'hypervisor' as const }))];
    const links: (LinkSpec & { w: number })[] = [];
    const have = new Set<string>();
    const add = (a: string, b: string, w: number): void => {
      const k = a < b ? `${a}-${b}` : `${b}-${a}`;
      if (a === b || have.has(k)) return;
      have.add(k);
      links.push({ a, b, capacityBps: 1, w });
    };
    // switches form a random tree (connected), hypervisors hang off switches
    for (let i = 1; i < sw.length; i++) add(sw[i]!, sw[tree[i]![0] % i]!, tree[i]![1]);
    hv.forEach((h, i) => add(h, sw[tree[i]![0] % sw.length]!, tree[i]![1]));
    for (const [x, y, w] of extra) add(sw[x % sw.length]!, sw[y % sw.length]!, w);
    return { nodes, links, hv, sw };
  });

test('paths: least weight (checked against Floyd-Warshall), symmetric, contiguous, never through another hypervisor', () => {
  fc.assert(
    fc.property(randomGraph, ({ nodes, links, hv }) => {
      const b = build({ nodes, links }, { links: Object.fromEntries(links.map((l) => [l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`, l.w])) });
      // Floyd-Warshall over switches plus the two endpoints only (hypervisors do not transit)
      for (const x of hv) {
        for (const y of hv) {
          const allowed = new Set(nodes.filter((n) => n.kind === 'switch').map((n) => n.id).concat([x, y]));
          const ids = [...allowed];
          const d = new Map<string, number>();
          const key = (p: string, q: string): string => `${p}|${q}`;
          for (const p of ids) for (const q of ids) d.set(key(p, q), p === q ? 0 : Infinity);
          for (const l of links) {
            if (!allowed.has(l.a) || !allowed.has(l.b)) continue;
            d.set(key(l.a, l.b), Math.min(d.get(key(l.a, l.b))!, l.w));
            d.set(key(l.b, l.a), Math.min(d.get(key(l.b, l.a))!, l.w));
          }
          for (const k of ids) for (const p of ids) for (const q of ids) {
            const via = d.get(key(p, k))! + d.get(key(k, q))!;
            if (via < d.get(key(p, q))!) d.set(key(p, q), via);
          }
          const expected = d.get(key(x, y))!;
          assert.equal(b.oracle.cost(x, y), expected);
          assert.equal(b.oracle.cost(y, x), expected);
          const path = b.oracle.path(x, y);
          let at = x;
          let sum = 0;
          for (const l of path) {
            assert.ok(l.a === at || l.b === at, 'path is contiguous');
            at = l.a === at ? l.b : l.a;
            if (at !== y) assert.ok(!hv.includes(at), 'no hypervisor in transit');
            sum += b.weights.get(l.id)!;
          }
          assert.equal(at, y);
          assert.equal(sum, expected);
          assert.deepEqual(b.oracle.path(y, x).map((l) => l.id), [...path].reverse().map((l) => l.id));
        }
      }
    }),
    { numRuns: 150 },
  );
});

test('paths: equal-cost choices are deterministic whatever the link order', () => {
  const g = fatTree(4);
  const a = build(g);
  const reversed = build({ nodes: [...g.nodes].reverse(), links: [...g.links].reverse() });
  for (const x of a.topology.hypervisors) {
    for (const y of a.topology.hypervisors) {
      assert.deepEqual(a.oracle.path(x, y).map((l) => l.id), reversed.oracle.path(x, y).map((l) => l.id));
    }
  }
});

test('paths: symmetric cost on generated three-tier trees', () => {
  const b = build(threeTier({ pods: 3, torsPerPod: 3, hypervisorsPerTor: 3 }));
  const hv = b.topology.hypervisors;
  for (const x of hv) for (const y of hv) assert.equal(b.oracle.cost(x, y), b.oracle.cost(y, x));
  assert.equal(b.oracle.cost('h1', 'h2'), 2);
  assert.equal(b.oracle.cost('h1', 'h4'), 6);
  assert.equal(b.oracle.cost('h1', 'h10'), 12);
});

test('paths: disconnected nodes and unknown names give NO_PATH', () => {
  const b = build({
    nodes: [
      { id: 'h1', kind: 'hypervisor' },
      { id: 'h2', kind: 'hypervisor' },
      { id: 's1', kind: 'switch' },
    ],
    links: [{ a: 'h1', b: 's1', capacityBps: 1 }],
  });
  assert.throws(() => b.oracle.cost('h1', 'h2'), (e) => isScoreError(e, 'NO_PATH'));
  assert.throws(() => b.oracle.path('h1', 'nope'), (e) => isScoreError(e, 'NO_PATH'));
});

/**
 * A generated data centre with random link weights drawn from a small set, so equal-cost paths
 * abound; decimal weights make sums order-sensitive in floating point. Optionally a few
 * hypervisors get a second uplink (multi-homed) or lose theirs, which the fast path must hand
 * to the general search.
 */
const randomDataCentre = fc
  .record({
    shape: fc.oneof(
      fc.record({ kind: fc.constant('fat-tree' as const), k: fc.constantFrom(2, 4, 6) }),
      fc.record({
        kind: fc.constant('three-tier' as const),
        pods: fc.integer({ min: 1, max: 3 }),
        tors: fc.integer({ min: 1, max: 3 }),
        hvs: fc.integer({ min: 1, max: 3 }),
        aggs: fc.integer({ min: 1, max: 3 }),
        cores: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({
        kind: fc.constant('leaf-spine' as const),
        leaves: fc.integer({ min: 1, max: 5 }),
        spines: fc.integer({ min: 1, max: 4 }),
        hvs: fc.integer({ min: 1, max: 4 }),
      }),
    ),
    palette: fc.constantFrom([1], [1, 2], [1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.7, 1.3, 2]),
    picks: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
    uniformUplinks: fc.boolean(),
    oddHosts: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 2 }),
  })
  .map(({ shape, palette, picks, uniformUplinks, oddHosts }) => {
    const g =
      shape.kind === 'fat-tree'
        ? fatTree(shape.k)
        : shape.kind === 'three-tier'
          ? threeTier({ pods: shape.pods, torsPerPod: shape.tors, hypervisorsPerTor: shape.hvs, aggPerPod: shape.aggs, cores: shape.cores })
          : leafSpine({ leaves: shape.leaves, spines: shape.spines, hypervisorsPerLeaf: shape.hvs });
    const hvs = g.nodes.filter((x) => x.kind === 'hypervisor').map((x) => x.id);
    const sws = g.nodes.filter((x) => x.kind === 'switch').map((x) => x.id);
    let links: LinkSpec[] = [...g.links];
    for (const [h, s, dual] of oddHosts) {
      const hv = hvs[h % hvs.length]!;
      if (dual) {
        const sw = sws[s % sws.length]!;
        if (!links.some((l) => (l.a === hv && l.b === sw) || (l.a === sw && l.b === hv))) links.push({ a: hv, b: sw, capacityBps: 1 });
      } else links = links.filter((l) => l.a !== hv && l.b !== hv);
    }
    const weights: Record<string, number> = {};
    links.forEach((l, i) => {
      const uplink = hvs.includes(l.a) || hvs.includes(l.b);
      weights[l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`] = uplink && uniformUplinks ? palette[0] : palette[picks[i % picks.length]! % palette.length]!;
    });
    return { nodes: g.nodes, links, weights, hvs, sws };
  });

test('paths: the attachment-switch oracle gives exactly the costs and paths of the general search', () => {
  fc.assert(
    fc.property(randomDataCentre, ({ nodes, links, weights, hvs, sws }) => {
      const b = build({ nodes, links }, { links: weights });
      const general = createPathOracle(b.topology, b.weights, { algorithm: 'general' });
      // a tiny cache forces evicted trees to be recomputed mid-way
      const small = createPathOracle(b.topology, b.weights, { pathCacheBytes: 1 });
      const ends = [...hvs, ...sws.slice(0, 2)];
      for (const x of ends) {
        for (const y of ends) {
          const want = outcome(() => general.cost(x, y));
          assert.deepEqual(outcome(() => b.oracle.cost(x, y)), want, `cost ${x} ${y}`);
          assert.deepEqual(outcome(() => small.cost(x, y)), want, `cost ${x} ${y}`);
          const wantPath = outcome(() => general.path(x, y).map((l) => l.id));
          assert.deepEqual(outcome(() => b.oracle.path(x, y).map((l) => l.id)), wantPath, `path ${x} ${y}`);
          assert.deepEqual(outcome(() => small.path(x, y).map((l) => l.id)), wantPath, `path ${x} ${y}`);
        }
      }
    }),
    { numRuns: 120 },
  );
});

test('paths: the indexed cost table gives exactly the indexed costs (Infinity where they throw NO_PATH), and is withheld above its size limit', () => {
  fc.assert(
    fc.property(randomDataCentre, ({ nodes, links, weights, hvs }) => {
      const b = build({ nodes, links }, { links: weights });
      const fast = b.oracle.indexed!;
      const t = fast.table!(1 << 20)!;
      assert.ok(t !== undefined, 'a small table is given');
      const ix = hvs.map((h) => fast.index(h)).filter((i) => i >= 0);
      for (const ia of ix) {
        for (const ib of ix) {
          if (ia === ib) continue;
          const lo = Math.min(ia, ib);
          const hi = Math.max(ia, ib);
          const fromTable = t.rows[t.group[lo]! * t.cols + t.col[hi]!]! + t.up[hi]!;
          const want = outcome(() => fast.cost(ia, ib));
          assert.deepEqual('ok' in want ? { ok: fromTable } : { code: fromTable === Infinity ? 'NO_PATH' : `finite ${fromTable}` }, want, `table ${ia} ${ib}`);
        }
      }
      if (t.rows.length > 0) assert.equal(fast.table!(t.rows.length - 1), undefined, 'withheld when larger than asked');
    }),
    { numRuns: 120 },
  );
});

/** A value or the error code it threw, so both oracles can be compared on failures too. */
function outcome<T>(f: () => T): { ok: T } | { code: string } {
  try {
    return { ok: f() };
  } catch (e) {
    if (isScoreError(e, 'NO_PATH')) return { code: 'NO_PATH' };
    throw e;
  }
}

test('paths: oracle.metric is claimed only where the triangle inequality holds between hypervisors', () => {
  // hypervisors may get a second link (to a switch or to another hypervisor): then nothing is claimed
  const graph = fc.tuple(randomGraph, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 5 })), { maxLength: 2 }));
  fc.assert(
    fc.property(graph, ([{ nodes, links, hv, sw }, second]) => {
      const all = [...links];
      for (const [h, x, w] of second) {
        const a = hv[h % hv.length]!;
        const b = x % 2 === 0 ? sw[x % sw.length]! : hv[x % hv.length]!;
        if (a !== b && !all.some((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a))) all.push({ a, b, capacityBps: 1, w });
      }
      const b = build({ nodes, links: all }, { links: Object.fromEntries(all.map((l) => [l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`, l.w])) });
      const singleHomed = hv.every((h) => all.filter((l) => l.a === h || l.b === h).length === 1);
      assert.equal(b.oracle.metric, singleHomed);
      if (!singleHomed) return;
      for (const x of hv) for (const y of hv) for (const z of hv) assert.ok(b.oracle.cost(x, z) <= b.oracle.cost(x, y) + b.oracle.cost(y, z) + 1e-9, `${x} ${y} ${z}`);
    }),
    { numRuns: 150 },
  );
  // a dual-homed hypervisor that may not carry transit breaks the inequality: it is not claimed
  const b = build(
    {
      nodes: [...['s1', 's2', 's3'].map((id): TopoNode => ({ id, kind: 'switch' })), ...['h1', 'h2', 'hm'].map((id): TopoNode => ({ id, kind: 'hypervisor' }))],
      links: [
        { a: 'h1', b: 's1', capacityBps: 1 },
        { a: 'h2', b: 's2', capacityBps: 1 },
        { a: 'hm', b: 's1', capacityBps: 1 },
        { a: 'hm', b: 's2', capacityBps: 1 },
        { a: 's1', b: 's3', capacityBps: 1 },
        { a: 's2', b: 's3', capacityBps: 1 },
      ],
    },
    { links: { 'h1-s1': 1, 'h2-s2': 1, 'hm-s1': 1, 'hm-s2': 1, 's1-s3': 10, 's2-s3': 10 } },
  );
  assert.ok(b.oracle.cost('h1', 'h2') > b.oracle.cost('h1', 'hm') + b.oracle.cost('hm', 'h2'), 'the inequality fails here');
  assert.equal(b.oracle.metric, false);
  assert.equal(createPathOracle(b.topology, b.weights, { hypervisorTransit: true }).metric, true, 'with transit the costs are a shortest-path metric');
  assert.equal(build(fatTree(4)).oracle.metric, true);
  assert.equal(loadScenarioFile('paper').model.oracle.metric, true);
});
