import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classCosts } from './class-costs.ts';
import { build } from '../build.ts';
import { fatTree, leafSpine } from '../../topologies/generate.ts';
import { seededRng } from '../random.ts';

/** the planner's per-hypervisor view of the oracle's table, and every hypervisor's oracle number */
function tableOf(g: ReturnType<typeof fatTree>, weights?: Record<string, number>) {
  const b = build(g, weights === undefined ? undefined : { links: weights });
  const fast = b.oracle.indexed!;
  const t = fast.table!(1 << 22)!;
  const ix = b.topology.hypervisors.map((h) => fast.index(h));
  assert.ok(
    ix.every((i) => i >= 0),
    'every hypervisor is in the table',
  );
  const tRow = Int32Array.from(ix, (f) => t.group[f]! * t.cols);
  const tCol = Int32Array.from(ix, (f) => t.col[f]!);
  const tUp = Float64Array.from(ix, (f) => t.up[f]!);
  return { fast, ix, tRow, tCol, tUp, rows: t.rows };
}

test('class costs give exactly the oracle cost of every pair of hypervisors (fat-trees, leaf-spine, random link weights) whenever they are given', () => {
  const rng = seededRng(5);
  const shapes = [fatTree(4), fatTree(8), leafSpine({ leaves: 4, spines: 3, hypervisorsPerLeaf: 3 })];
  let given = 0;
  let withheld = 0;
  for (const g of shapes) {
    for (const weighted of [false, true]) {
      let weights: Record<string, number> | undefined;
      if (weighted) {
        weights = {};
        for (const l of g.links) weights[l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`] = [0.1, 0.7, 1.3, 2][Math.floor(rng() * 4)]!;
      }
      const { fast, ix, tRow, tCol, tUp, rows } = tableOf(g, weights);
      const cc = classCosts(tRow, tCol, tUp, rows);
      if (cc === undefined) {
        withheld += 1;
        continue;
      }
      given += 1;
      for (let a = 0; a < ix.length; a++) {
        for (let b = 0; b < ix.length; b++) {
          if (a === b) continue;
          const got = cc.palette[cc.code[cc.rowOf[a]! + cc.colOf[b]!]!]!;
          assert.ok(Object.is(got, fast.cost(ix[a]!, ix[b]!)), `hypervisors ${a} and ${b}: ${got} against ${fast.cost(ix[a]!, ix[b]!)}`);
        }
      }
    }
  }
  assert.ok(given >= 3, `the uniform fat-trees and leaf-spine are given class costs (${given} given)`);
  // fat-tree(8): one class per edge switch
  const ft8 = tableOf(fatTree(8));
  assert.equal(classCosts(ft8.tRow, ft8.tCol, ft8.tUp, ft8.rows)!.palette.length <= 8, true, 'a handful of distinct costs');
  assert.equal(Math.sqrt(classCosts(ft8.tRow, ft8.tCol, ft8.tUp, ft8.rows)!.code.length), 32, 'fat-tree(8) has 32 edge switches, one class each');
  assert.ok(withheld >= 0, `withheld ${withheld}`);
});

test('class costs are withheld when a cost differs by order, is Infinity or -0, or there are too many costs or classes', () => {
  // two classes (rows 0 and 2 of a 2 × 2 table, columns 0 and 1), uplinks 1
  const tRow = Int32Array.of(0, 2);
  const tCol = Int32Array.of(0, 1);
  const tUp = Float64Array.of(1, 1);
  assert.notEqual(classCosts(tRow, tCol, tUp, Float64Array.of(2, 5, 5, 2)), undefined, 'a symmetric table is given');
  assert.equal(classCosts(tRow, tCol, tUp, Float64Array.of(2, 5, 6, 2)), undefined, 'a cost that differs by order');
  assert.equal(classCosts(tRow, tCol, tUp, Float64Array.of(2, Infinity, Infinity, 2)), undefined, 'no path');
  assert.equal(classCosts(tRow, tCol, Float64Array.of(-0, -0), Float64Array.of(-0, 5, 5, -0)), undefined, 'a cost of -0 (-0 + -0)');
  assert.equal(classCosts(tRow, tCol, tUp, Float64Array.of(2, 5, 5, 2), 3), undefined, 'more pairs of classes than allowed');
  // 300 classes on the diagonal of a 300 × 300 table with 300 distinct costs
  const m = 300;
  const rows = new Float64Array(m * m);
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) rows[a * m + b] = a === b ? a + 1 : 1000;
  assert.equal(
    classCosts(
      Int32Array.from({ length: m }, (_, i) => i * m),
      Int32Array.from({ length: m }, (_, i) => i),
      new Float64Array(m),
      rows,
    ),
    undefined,
    'more than 256 distinct costs',
  );
});
