import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trafficMatrix, type DirectedFlow, type Placement, type TrafficMatrix } from './cost.ts';
import { IncrementalPlanner, type PairRate } from './incremental.ts';
import { rankOf, runPolicy, type PolicyRun } from './policies.ts';
import { seededRng, type Rng } from './random.ts';
import { build } from './build.ts';
import { smallInstance } from './test-instances.ts';
import { fatTree } from '../topologies/generate.ts';
import type { MigrationCostFn } from './migration-cost.ts';
import type { DecisionMode } from './decision.ts';
import type { PathOracle } from './paths.ts';
import { isScoreError } from '../errors/errors.ts';
import { generateWorkload } from '../workloads/workload.ts';
import { churnEpochs } from '../sim/epochs.ts';

/** the migrations of a run, as comparable rows */
function moves(r: PolicyRun): string[] {
  return r.steps.map((s) => `${s.round}:${s.decision.vm}:${s.decision.from}>${s.decision.to}:${s.decision.costBefore}:${s.decision.costAfter}`);
}

/** unordered pairs of a matrix with their λ */
function pairsOf(t: TrafficMatrix): Map<string, { a: string; b: string; rate: number }> {
  const out = new Map<string, { a: string; b: string; rate: number }>();
  for (const [u, row] of t.peers) for (const [v, r] of row) if (u < v) out.set(`${u}\u0000${v}`, { a: u, b: v, rate: r });
  return out;
}

/**
 * Non-integer rates: sums of these round, so a planner that summed a VM's terms in another order
 * than runPolicy (or kept a key by differences) would compare different numbers. Integer rates
 * times integer path costs sum exactly in any order and cannot show that.
 */
const FLOAT = (r: number): number => (r * 1.37) / 3;

/** a random change: some pairs re-rated, some removed, some new ones (rates through `scale`) */
function randomChange(rng: Rng, vms: readonly string[], t: TrafficMatrix, share: number, scale: (r: number) => number = (r) => r): PairRate[] {
  const out: PairRate[] = [];
  for (const p of pairsOf(t).values()) {
    const x = rng();
    if (x < share / 3) out.push({ a: p.a, b: p.b, rate: 0 });
    else if (x < (2 * share) / 3) out.push({ a: p.a, b: p.b, rate: scale(1 + Math.floor(rng() * 100)) });
  }
  const fresh = Math.max(1, Math.round((share / 3) * pairsOf(t).size));
  for (let i = 0; i < fresh; i++) {
    const a = vms[Math.floor(rng() * vms.length)]!;
    const b = vms[Math.floor(rng() * vms.length)]!;
    if (a !== b) out.push({ a, b, rate: scale(1 + Math.floor(rng() * 100)) });
  }
  return out;
}

/** the same matrix with every rate through f (rows in the same order) */
function scaled(t: TrafficMatrix, f: (r: number) => number): TrafficMatrix {
  return { peers: new Map([...t.peers].map(([u, row]) => [u, new Map([...row].map(([v, r]) => [v, f(r)]))])) };
}

/** the same change applied to a flow list, rebuilt from scratch (no shared state with the planner) */
function applyToFlows(t: TrafficMatrix, changes: readonly PairRate[]): DirectedFlow[] {
  const pairs = pairsOf(t);
  for (const c of changes) {
    const [a, b] = c.a < c.b ? [c.a, c.b] : [c.b, c.a];
    if (c.rate > 0) pairs.set(`${a}\u0000${b}`, { a, b, rate: c.rate });
    else pairs.delete(`${a}\u0000${b}`);
  }
  return [...pairs.values()].map((p) => ({ src: p.a, dst: p.b, rate: p.rate }));
}

interface Case {
  readonly vms: readonly string[];
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  readonly capacity: ReadonlyMap<string, number>;
}

/** checks every epoch against from scratch; returns how many VMs the home/away bound set aside in all */
function check(label: string, c: Case, seed: number, o: { policy: 'load-aware' | 'round-robin'; cm: number | MigrationCostFn; mode?: DecisionMode; maxRounds: number; maxMigrations?: number; epochs: number; share: number; cmNonNegative?: boolean; scale?: (r: number) => number }): number {
  const rng = seededRng(seed);
  const rank = rankOf(c.vms);
  const planner = new IncrementalPlanner(c);
  let placement: Placement = c.placement;
  let traffic = c.traffic;
  let bounded = 0;
  for (let e = 0; e < o.epochs; e++) {
    const opts = { policy: o.policy, migrationCost: o.cm, mode: o.mode ?? 'first', maxRounds: o.maxRounds, ...(o.maxMigrations === undefined ? {} : { maxMigrations: o.maxMigrations }) };
    const inc = planner.plan({ ...opts, migrationCostNonNegative: o.cmNonNegative === true });
    assert.ok(inc.bounded <= c.vms.length, `${label} seed ${seed} epoch ${e}: the bound set aside ${inc.bounded} of ${c.vms.length} VMs (each counted once)`);
    // a round's start unmarks what it takes: a count below 0 is a VM taken without being unmarked
    assert.ok(planner.dirtyCount >= 0, `${label} seed ${seed} epoch ${e}: ${planner.dirtyCount} VMs marked after the plan`);
    bounded += inc.bounded;
    assert.ok(planner.memoCheck().consistent, `${label} seed ${seed} epoch ${e}: every remembered home/away answer and C_A is a fresh sum's`);
    const ref = runPolicy({ ...opts, vms: c.vms, placement, traffic, oracle: c.oracle, capacity: c.capacity, rank });
    const at = `${label} seed ${seed} epoch ${e}`;
    assert.deepEqual(moves(inc), moves(ref), `${at}: the same migrations as from scratch`);
    // the records are built when read (from what each decision saw): they must be the ones a decision on the spot makes
    assert.deepEqual(
      inc.steps.map((s) => ({ ...s, decision: { ...s.decision } })),
      ref.steps.map((s) => ({ ...s, decision: { ...s.decision }, totalBefore: inc.steps[s.step - 1]?.totalBefore, totalAfter: inc.steps[s.step - 1]?.totalAfter })),
      `${at}: the same step records (candidates, reasons)`,
    );
    assert.deepEqual(
      inc.decisions.map((d) => ({ ...d })),
      // with a migration budget runPolicy goes on deciding after it is spent; the planner stops at the first move over it
      ref.decisions
        .filter((d) => d.to !== null)
        .slice(0, inc.decisions.length)
        .map((d) => ({ ...d })),
      `${at}: the same decision records for the moves`,
    );
    assert.equal(inc.rounds, ref.rounds, `${at}: rounds`);
    assert.equal(inc.converged, ref.converged, `${at}: converged`);
    assert.deepEqual([...inc.finalPlacement].sort(), [...ref.finalPlacement].sort(), `${at}: placement`);
    const tol = 1e-9 * Math.max(1, ref.initialCost);
    assert.ok(Math.abs(inc.initialCost - ref.initialCost) <= tol && Math.abs(inc.finalCost - ref.finalCost) <= tol, `${at}: totals ${inc.initialCost}/${inc.finalCost} vs ${ref.initialCost}/${ref.finalCost}`);
    assert.ok(inc.asked <= ref.decisions.length || e === 0, `${at}: asked ${inc.asked} of ${ref.decisions.length}`);
    placement = ref.finalPlacement;
    // the next epoch's traffic: a change applied to the planner, and the same change rebuilt from a flow list
    const change = randomChange(rng, c.vms, traffic, o.share, o.scale);
    planner.updateTraffic(change);
    const scratch = trafficMatrix(applyToFlows(traffic, change));
    assert.deepEqual([...pairsOf(planner.traffic()).values()].sort((x, y) => (x.a + x.b < y.a + y.b ? -1 : 1)), [...pairsOf(scratch).values()].sort((x, y) => (x.a + x.b < y.a + y.b ? -1 : 1)), `${at}: the planner's traffic after the change`);
    // rows keep Map order in the planner; the from-scratch matrix of the new flow list may order them differently,
    // so the exact comparison runs on the planner's own matrix and the flow-list one must agree on the moves
    const viaFlows = runPolicy({ ...opts, vms: c.vms, placement, traffic: scratch, oracle: c.oracle, capacity: c.capacity, rank });
    const viaOwn = runPolicy({ ...opts, vms: c.vms, placement, traffic: planner.traffic(), oracle: c.oracle, capacity: c.capacity, rank });
    assert.deepEqual(
      viaOwn.steps.map((s) => `${s.decision.vm}>${s.decision.to}`),
      viaFlows.steps.map((s) => `${s.decision.vm}>${s.decision.to}`),
      `${at}: row order does not change the decisions`,
    );
    traffic = planner.traffic();
  }
  return bounded;
}

const PRICE: MigrationCostFn = (vm, from, to) => (vm.length % 3) * 5 + (from < to ? 3 : 7);

test('incremental planning makes exactly the migrations of from-scratch planning (random small instances, tight slots, changes each epoch)', () => {
  let bounded = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const topology = seed % 2;
    const inst = smallInstance(seed, { vms: 14 + (seed % 10), slots: 2 + (seed % 3), topology, partners: 1 + (seed % 3) });
    const c: Case = { vms: inst.vms, placement: inst.placement, traffic: inst.traffic, oracle: inst.oracle, capacity: inst.capacity };
    const policy = seed % 3 === 0 ? 'round-robin' : 'load-aware';
    const cm = seed % 4 === 0 ? PRICE : seed % 4 === 1 ? 10 : 0;
    bounded += check('small', c, seed, { policy, cm, mode: seed % 3 === 1 ? 'best' : 'first', maxRounds: seed % 5 === 0 ? 1 : 20, epochs: 4, share: 0.3, cmNonNegative: seed % 8 === 0 });
    bounded += check('small budget', c, seed + 1000, { policy, cm, mode: seed % 3 === 2 ? 'best' : 'first', maxRounds: 20, maxMigrations: 1 + (seed % 4), epochs: 3, share: 0.2, cmNonNegative: seed % 8 === 0 });
  }
  assert.ok(bounded > 0, 'the home/away bound set VMs aside (it is exercised)');
});

test('incremental planning on a fat-tree (the indexed path oracle) makes exactly the migrations of from-scratch planning', () => {
  const built = build(fatTree(4));
  const hvs = built.topology.hypervisors;
  let bounded = 0;
  for (let seed = 1; seed <= 8; seed++) {
    const rng = seededRng(seed * 7919);
    const slots = 2 + (seed % 2);
    const vms = Array.from({ length: hvs.length * slots - 3 }, (_, i) => `vm${i + 1}`);
    const order = vms.map((v) => [rng(), v] as const).sort((a, b) => a[0] - b[0]);
    const placement = new Map(order.map(([, v], i) => [v, hvs[i % hvs.length]!]));
    const flows: DirectedFlow[] = [];
    for (const v of vms) for (let k = 0; k < 2; k++) flows.push({ src: v, dst: vms[Math.floor(rng() * vms.length)]!, rate: 1 + Math.floor(rng() * 1000) });
    const c: Case = { vms, placement, traffic: trafficMatrix(flows), oracle: built.oracle, capacity: new Map(hvs.map((h) => [h, slots])) };
    assert.ok(built.oracle.indexed !== undefined, 'the fat-tree oracle has the indexed fast path');
    bounded += check('fat-tree(4)', c, seed, { policy: seed % 2 === 0 ? 'round-robin' : 'load-aware', cm: seed % 3 === 0 ? PRICE : 0, mode: seed % 4 === 1 ? 'best' : 'first', maxRounds: 20, epochs: 5, share: 0.15, cmNonNegative: true });
  }
  assert.ok(bounded > 0, 'the home/away bound set VMs aside (it is exercised)');
});

test('hypervisors holding more VMs than the planner first makes room for (20 slots; half full, half at 12): the same migrations as from scratch', () => {
  // the planner keeps each hypervisor's VMs in one flat array, room for 16 or the VMs it holds,
  // moved with twice the room when a move fills it; a full hypervisor that a move frees offers
  // its slot to its VMs' peers, read from there
  const built = build(fatTree(4));
  const hvs = built.topology.hypervisors;
  const half = hvs.length / 2;
  for (let seed = 1; seed <= 4; seed++) {
    const rng = seededRng(seed * 6151);
    const slots = 20;
    const vms = Array.from({ length: half * (slots + 12) }, (_, i) => `vm${i + 1}`);
    const order = vms.map((v) => [rng(), v] as const).sort((a, b) => a[0] - b[0]);
    const placement = new Map(order.map(([, v], i) => [v, hvs[i < half * slots ? i % half : half + (i % half)]!]));
    const flows: DirectedFlow[] = [];
    for (const v of vms) for (let k = 0; k < 2; k++) flows.push({ src: v, dst: vms[Math.floor(rng() * vms.length)]!, rate: 1 + Math.floor(rng() * 1000) });
    const c: Case = { vms, placement, traffic: trafficMatrix(flows), oracle: built.oracle, capacity: new Map(hvs.map((h) => [h, slots])) };
    check('fat-tree(4), 20 slots', c, seed, { policy: seed % 2 === 0 ? 'round-robin' : 'load-aware', cm: 0, maxRounds: 20, epochs: 4, share: 0.1 });
    const planner = new IncrementalPlanner(c);
    const run = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 20 });
    assert.ok(run.steps.length > 0, `seed ${seed}: the plan moves VMs`);
    assert.ok(planner.hostListsConsistent(), `seed ${seed}: each VM on its hypervisor's list once after ${run.steps.length} moves`);
  }
});

test('incremental planning on fat-tree(8) with a few hundred VMs and small changes (clean VMs outside the round matter) matches from scratch', () => {
  const built = build(fatTree(8));
  const hvs = built.topology.hypervisors;
  let bounded = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const rng = seededRng(seed * 104729);
    const slots = 3;
    const vms = Array.from({ length: hvs.length * slots - 5 }, (_, i) => `vm${i + 1}`);
    const order = vms.map((v) => [rng(), v] as const).sort((a, b) => a[0] - b[0]);
    const placement = new Map(order.map(([, v], i) => [v, hvs[i % hvs.length]!]));
    const flows: DirectedFlow[] = [];
    for (const v of vms) for (let k = 0; k < 3; k++) flows.push({ src: v, dst: vms[Math.floor(rng() * vms.length)]!, rate: Math.round(Math.exp(rng() * 8)) });
    const c: Case = { vms, placement, traffic: trafficMatrix(flows), oracle: built.oracle, capacity: new Map(hvs.map((h) => [h, slots])) };
    bounded += check('fat-tree(8)', c, seed, { policy: seed % 3 === 0 ? 'round-robin' : 'load-aware', cm: 0, maxRounds: 20, epochs: 6, share: 0.03 + 0.02 * (seed % 3) });
  }
  assert.ok(bounded > 0, 'the home/away bound set VMs aside (it is exercised)');
});

test('the home/away bound is used only on a metric oracle with c_m >= 0, and the moves are the same either way', () => {
  const built = build(fatTree(4));
  const hvs = built.topology.hypervisors;
  const rng = seededRng(31);
  const vms = Array.from({ length: hvs.length * 3 - 4 }, (_, i) => `vm${i + 1}`);
  const placement = new Map(vms.map((v, i) => [v, hvs[(i * 7) % hvs.length]!]));
  const flows: DirectedFlow[] = [];
  for (const v of vms) for (let k = 0; k < 3; k++) flows.push({ src: v, dst: vms[Math.floor(rng() * vms.length)]!, rate: 1 + Math.floor(rng() * 1000) });
  const traffic = trafficMatrix(flows);
  const capacity = new Map(hvs.map((h) => [h, 3]));
  // the same costs without the claim
  const unknown: PathOracle = { cost: (a, b) => built.oracle.cost(a, b), path: (a, b) => built.oracle.path(a, b) };
  const run = (oracle: PathOracle, cm: number | MigrationCostFn, nonNegative: boolean) => {
    const planner = new IncrementalPlanner({ vms, placement, traffic, oracle, capacity });
    planner.plan({ policy: 'load-aware', migrationCost: cm, maxRounds: 20 });
    planner.updateTraffic(randomChange(seededRng(5), vms, traffic, 0.2));
    return planner.plan({ policy: 'load-aware', migrationCost: cm, maxRounds: 20, migrationCostNonNegative: nonNegative });
  };
  const withBound = run(built.oracle, 0, false);
  assert.ok(withBound.bounded > 0, 'metric oracle, c_m 0: the bound is used');
  assert.equal(run(unknown, 0, false).bounded, 0, 'an oracle that does not claim a metric: no bound');
  assert.equal(run(built.oracle, -1, false).bounded, 0, 'a negative c_m: no bound');
  assert.equal(run(built.oracle, PRICE, false).bounded, 0, 'a c_m function not declared non-negative: no bound');
  assert.ok(run(built.oracle, PRICE, true).bounded > 0, 'declared non-negative: the bound is used');
  assert.deepEqual(moves(run(unknown, 0, false)), moves(withBound), 'the bound changes no move');
  assert.deepEqual(moves(run(unknown, PRICE, false)), moves(run(built.oracle, PRICE, true)), 'the bound changes no move (priced)');
});

test('a converged planner with no change asks nobody; a change makes only its endpoints dirty', () => {
  const inst = smallInstance(3, { vms: 20, slots: 3, partners: 2 });
  const planner = new IncrementalPlanner(inst);
  assert.equal(planner.dirtyCount, inst.vms.length, 'a new planner knows no fixed point: every VM is dirty');
  const first = planner.plan({ policy: 'load-aware', migrationCost: 0 });
  assert.equal(first.converged, true);
  const again = planner.plan({ policy: 'load-aware', migrationCost: 0 });
  assert.equal(again.asked, 0);
  assert.equal(again.steps.length, 0);
  assert.equal(again.converged, true);
  const [a, b] = [inst.vms[0]!, inst.vms[5]!];
  planner.updateTraffic([{ a, b, rate: 77 }]);
  assert.equal(planner.dirtyCount, 2);
  planner.markDirty([a, inst.vms[7]!]);
  assert.equal(planner.dirtyCount, 3, 'a VM is dirty once');
  const after = planner.plan({ policy: 'load-aware', migrationCost: 0 });
  assert.ok(after.asked >= 1 && after.asked < inst.vms.length, `asked ${after.asked}`);
  assert.deepEqual([...after.finalPlacement].sort(), [...planner.placement()].sort());
});

test('bad input to the incremental planner is a WORKLOAD_INVALID error', () => {
  const inst = smallInstance(4, { vms: 10, slots: 3 });
  const planner = new IncrementalPlanner(inst);
  assert.throws(() => planner.updateTraffic([{ a: 'nope', b: inst.vms[0]!, rate: 1 }]), (e) => isScoreError(e, 'WORKLOAD_INVALID'));
  assert.throws(() => planner.updateTraffic([{ a: inst.vms[1]!, b: inst.vms[0]!, rate: -1 }]), (e) => isScoreError(e, 'WORKLOAD_INVALID'));
  assert.throws(() => planner.markDirty(['nope']), (e) => isScoreError(e, 'WORKLOAD_INVALID'));
  const missing = new Map(inst.placement);
  missing.delete(inst.vms[2]!);
  assert.throws(() => new IncrementalPlanner({ ...inst, placement: missing }), (e) => isScoreError(e, 'WORKLOAD_INVALID'));
});

/** what changed between two matrices, as pair rates */
function diff(before: TrafficMatrix, after: TrafficMatrix): PairRate[] {
  const out: PairRate[] = [];
  for (const [a, row] of after.peers) for (const [b, r] of row) if (a < b && before.peers.get(a)?.get(b) !== r) out.push({ a, b, rate: r });
  for (const [a, row] of before.peers) for (const b of row.keys()) if (a < b && after.peers.get(a)?.get(b) === undefined) out.push({ a, b, rate: 0 });
  return out;
}

test("the benchmark's shape on fat-tree(8): partner workload converged, pairs re-partnered, one round and to convergence, same moves as from scratch", () => {
  const built = build(fatTree(8));
  let bounded = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const w = generateWorkload(built.topology, { model: 'partners', vms: 128 * (1 + (seed % 3)), slotsPerHypervisor: 4 + (seed % 3) * 2, placement: 'random', seed });
    const traffic = trafficMatrix(w.flows);
    const rank = rankOf(w.vms);
    const base = { vms: w.vms, oracle: built.oracle, capacity: w.capacity };
    const conv = runPolicy({ ...base, policy: 'load-aware', placement: w.placement, traffic, rank, migrationCost: 0, maxRounds: 20 });
    const [, next] = churnEpochs(w.flows, 2, 0.05 + 0.05 * (seed % 4), seededRng(seed)) as [DirectedFlow[], DirectedFlow[]];
    const nt = trafficMatrix(next);
    for (const maxRounds of [1, 20]) {
      const planner = new IncrementalPlanner({ ...base, placement: conv.finalPlacement, traffic });
      assert.equal(planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 }).steps.length, 0, 'converged');
      planner.updateTraffic(diff(traffic, nt));
      const inc = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds });
      const ref = runPolicy({ ...base, policy: 'load-aware', placement: conv.finalPlacement, traffic: nt, rank, migrationCost: 0, maxRounds });
      assert.deepEqual(moves(inc), moves(ref), `seed ${seed}, ${maxRounds} rounds`);
      assert.ok(inc.steps.length > 0, 'the change moves VMs');
      bounded += inc.bounded;
    }
  }
  assert.ok(bounded > 0, 'the home/away bound set VMs aside');
});

test('a VM the bound set aside after a move is judged on the asks since then: re-asked after a second peer moves (hand-built)', () => {
  // Hypervisors on a line (|x - y| is a metric): F at -55, A at 0, T at 10. c_m 0, Load-Aware.
  //  A: u1, u2, p; T: w1, w2 (bound to each other by 100); F: z, z2 (bound by 5).
  //  u1-w1 10, u2-w2 8, u1-u2 3, p-u1 5, p-u2 7, p-z 1.
  // Round 1: u1 (key 100, the highest) moves to T. p's key rises from 55 to 105 and u2's from 80 to
  // 110; p still surely declines (home 7 >= away 5 + 1) and is set aside after one ask, whose key
  // (100) is below p's 105. u2 (110) is asked next and moves to T: the from-scratch round has not
  // asked p yet (105 < 110), and p, now with no peer at home, moves to T in the same round. Judged
  // on every ask of the round instead of the asks since it was set aside, u1's 100 would count as
  // "p asked already" and p would move a round late.
  const pos = new Map([['F', -55], ['A', 0], ['T', 10]]);
  const oracle: PathOracle = { cost: (a, b) => Math.abs(pos.get(a)! - pos.get(b)!), path: () => [], metric: true };
  const vms = ['u1', 'u2', 'p', 'w1', 'w2', 'z', 'z2'];
  const placement = new Map([['u1', 'A'], ['u2', 'A'], ['p', 'A'], ['w1', 'T'], ['w2', 'T'], ['z', 'F'], ['z2', 'F']]);
  const traffic = trafficMatrix([
    { src: 'u1', dst: 'w1', rate: 10 },
    { src: 'u2', dst: 'w2', rate: 8 },
    { src: 'u1', dst: 'u2', rate: 3 },
    { src: 'p', dst: 'u1', rate: 5 },
    { src: 'p', dst: 'u2', rate: 7 },
    { src: 'p', dst: 'z', rate: 1 },
    { src: 'w1', dst: 'w2', rate: 100 },
    { src: 'z', dst: 'z2', rate: 5 },
  ]);
  const capacity = new Map([['F', 3], ['A', 4], ['T', 5]]);
  const opts = { policy: 'load-aware', migrationCost: 0, maxRounds: 20 } as const;
  const ref = runPolicy({ ...opts, vms, placement, traffic, oracle, capacity, rank: rankOf(vms) });
  assert.deepEqual(ref.steps.map((s) => `${s.round}:${s.decision.vm}>${s.decision.to}`), ['1:u1>T', '1:u2>T', '1:p>T'], 'the instance is the one described');
  const inc = new IncrementalPlanner({ vms, placement, traffic, oracle, capacity }).plan(opts);
  // u2, p, w1, w2, z and z2 are set aside at the start, u1 once it is at T with w1 and u2: each
  // counted once, though the bound answers for several of them again after each move and round
  assert.equal(inc.bounded, 7, 'every VM was set aside by the bound at some point, each counted once');
  assert.deepEqual(moves(inc), moves(ref));
  assert.equal(inc.rounds, ref.rounds);
});

test('with non-integer rates (rates × 1.37 / 3) incremental planning still makes exactly the migrations and records of from-scratch planning', () => {
  let bounded = 0;
  // small topologies, tight slots, every policy, mode and c_m kind
  for (let seed = 1; seed <= 30; seed++) {
    const inst = smallInstance(seed, { vms: 14 + (seed % 10), slots: 2 + (seed % 3), topology: seed % 2, partners: 1 + (seed % 3) });
    const c: Case = { vms: inst.vms, placement: inst.placement, traffic: scaled(inst.traffic, FLOAT), oracle: inst.oracle, capacity: inst.capacity };
    const cm = seed % 4 === 0 ? PRICE : seed % 4 === 1 ? 10 / 3 : 0;
    bounded += check('small float', c, seed, { policy: seed % 3 === 0 ? 'round-robin' : 'load-aware', cm, mode: seed % 3 === 1 ? 'best' : 'first', maxRounds: seed % 5 === 0 ? 1 : 20, epochs: 4, share: 0.3, cmNonNegative: seed % 8 === 0, scale: FLOAT });
  }
  // fat-trees with the indexed oracle and its cost table, a few hundred VMs, small changes
  const built = build(fatTree(8));
  const hvs = built.topology.hypervisors;
  for (let seed = 1; seed <= 4; seed++) {
    const rng = seededRng(seed * 6007);
    const vms = Array.from({ length: hvs.length * 3 - 5 }, (_, i) => `vm${i + 1}`);
    const order = vms.map((v) => [rng(), v] as const).sort((a, b) => a[0] - b[0]);
    const placement = new Map(order.map(([, v], i) => [v, hvs[i % hvs.length]!]));
    const flows: DirectedFlow[] = [];
    for (const v of vms) for (let k = 0; k < 3; k++) flows.push({ src: v, dst: vms[Math.floor(rng() * vms.length)]!, rate: FLOAT(Math.round(Math.exp(rng() * 8))) });
    const c: Case = { vms, placement, traffic: trafficMatrix(flows), oracle: built.oracle, capacity: new Map(hvs.map((h) => [h, 3])) };
    bounded += check('fat-tree(8) float', c, seed, { policy: seed % 2 === 0 ? 'round-robin' : 'load-aware', cm: seed % 3 === 0 ? PRICE : 0, mode: seed % 4 === 1 ? 'best' : 'first', maxRounds: 20, epochs: 5, share: 0.03 + 0.02 * (seed % 3), cmNonNegative: true, scale: FLOAT });
  }
  // the benchmark's shape: partner workload converged, pairs re-partnered, one round
  for (let seed = 1; seed <= 3; seed++) {
    const w = generateWorkload(built.topology, { model: 'partners', vms: 128 * (1 + (seed % 3)), slotsPerHypervisor: 4 + (seed % 3) * 2, placement: 'random', seed });
    const flows = w.flows.map((f) => ({ ...f, rate: FLOAT(f.rate) }));
    const traffic = trafficMatrix(flows);
    const rank = rankOf(w.vms);
    const base = { vms: w.vms, oracle: built.oracle, capacity: w.capacity };
    const conv = runPolicy({ ...base, policy: 'load-aware', placement: w.placement, traffic, rank, migrationCost: 0, maxRounds: 20 });
    const [, next] = churnEpochs(flows, 2, 0.1, seededRng(seed)) as [DirectedFlow[], DirectedFlow[]];
    const nt = trafficMatrix(next);
    const planner = new IncrementalPlanner({ ...base, placement: conv.finalPlacement, traffic });
    assert.equal(planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 }).steps.length, 0, 'converged');
    planner.updateTraffic(diff(traffic, nt));
    // the planner's rows are the old matrix with the changes applied as a Map applies them (a
    // changed pair keeps its place, a new one is appended); the new flow list's matrix holds the
    // same pairs in another order, and with non-integer rates runPolicy's own sums over the two
    // differ in the last bits: bit-exactness is against runPolicy on the same rows in the same order
    const own = planner.traffic();
    const inc = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
    const ref = runPolicy({ ...base, policy: 'load-aware', placement: conv.finalPlacement, traffic: own, rank, migrationCost: 0, maxRounds: 1 });
    assert.ok(inc.steps.length > 0, 'the change moves VMs');
    assert.deepEqual(moves(inc), moves(ref), `partners seed ${seed}`);
    assert.deepEqual(JSON.stringify(inc.steps.map((s) => s.decision)), JSON.stringify(ref.steps.map((s) => s.decision)), `partners seed ${seed}: records`);
    const viaFlows = runPolicy({ ...base, policy: 'load-aware', placement: conv.finalPlacement, traffic: nt, rank, migrationCost: 0, maxRounds: 1 });
    const move = (r: PolicyRun) => r.steps.map((s) => `${s.decision.vm}>${s.decision.to}`);
    assert.deepEqual(move(inc), move(viaFlows), `partners seed ${seed}: the same moves as on the flow list's matrix`);
    viaFlows.steps.forEach((s, i) => assert.ok(Math.abs(s.decision.costAfter - inc.steps[i]!.decision.costAfter) <= 1e-12 * s.decision.costBefore, `partners seed ${seed}: step ${i + 1} sums within rounding`));
    bounded += inc.bounded;
  }
  assert.ok(bounded > 0, 'the home/away bound set VMs aside (it is exercised)');
});

test('after a plan only VMs that may not decline on the new inputs stay marked: movers and peers asked before a move, not peers that declined after it', () => {
  const built = build(fatTree(8));
  let fewer = 0;
  for (let seed = 1; seed <= 3; seed++) {
    const w = generateWorkload(built.topology, { model: 'partners', vms: 384, slotsPerHypervisor: 6, placement: 'random', seed });
    const traffic = trafficMatrix(w.flows);
    const base = { vms: w.vms, oracle: built.oracle, capacity: w.capacity };
    const conv = runPolicy({ ...base, policy: 'load-aware', placement: w.placement, traffic, rank: rankOf(w.vms), migrationCost: 0, maxRounds: 20 });
    const [, next] = churnEpochs(w.flows, 2, 0.1, seededRng(seed)) as [DirectedFlow[], DirectedFlow[]];
    const planner = new IncrementalPlanner({ ...base, placement: conv.finalPlacement, traffic });
    planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
    planner.updateTraffic(diff(traffic, trafficMatrix(next)));
    const run = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
    const own = planner.traffic();
    const touched = new Set<string>();
    for (const s of run.steps) {
      touched.add(s.decision.vm);
      for (const p of own.peers.get(s.decision.vm)?.keys() ?? []) touched.add(p);
    }
    assert.ok(run.steps.length > 0, 'the change moves VMs');
    assert.ok(planner.dirtyCount >= run.steps.length, 'every mover stays marked');
    if (planner.dirtyCount < touched.size) fewer += 1;
    // and the next plan, asking only those, still makes the from-scratch round's moves
    const again = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
    const ref = runPolicy({ ...base, policy: 'load-aware', placement: run.finalPlacement, traffic: own, rank: rankOf(w.vms), migrationCost: 0, maxRounds: 1 });
    assert.deepEqual(moves(again), moves(ref), `seed ${seed}: the next plan`);
  }
  assert.equal(fewer, 3, 'fewer VMs carried than the movers and all their peers');
});

test('a plan with another c_m than the last plan asks every VM again (a VM that declined at a high c_m may move at a lower one)', () => {
  let differed = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const inst = smallInstance(seed, { vms: 16 + (seed % 8), slots: 3, partners: 2 });
    const planner = new IncrementalPlanner(inst);
    const high = planner.plan({ policy: 'load-aware', migrationCost: 1e12 });
    assert.equal(high.steps.length, 0, `seed ${seed}: nothing is worth a huge c_m`);
    const low = planner.plan({ policy: 'load-aware', migrationCost: 0 });
    const ref = runPolicy({ policy: 'load-aware', vms: inst.vms, placement: inst.placement, traffic: planner.traffic(), oracle: inst.oracle, capacity: inst.capacity, rank: rankOf(inst.vms), migrationCost: 0 });
    assert.deepEqual(moves(low), moves(ref), `seed ${seed}: the same moves as from scratch at c_m = 0`);
    if (ref.steps.length > 0) differed++;
  }
  assert.ok(differed > 0, 'some instance moves at c_m = 0 (the check is not empty)');
});

test('a host is priced even when an earlier peer on it adds nothing (a rate x cost that underflows to 0): same move as runPolicy', () => {
  // every two hypervisors 0.25 apart; u on x, its peers p1 and p2 on h. p1's term is 5e-324 x 0.25 = 0:
  // a decline test that took "an earlier peer with rate > 0 sits there" as "priced already" never
  // priced h and moved p2 to x instead of u to h
  const oracle: PathOracle = { cost: (a, b) => (a === b ? 0 : 0.25), path: () => [], metric: true };
  const vms = ['u', 'p1', 'p2'];
  const placement = new Map([['u', 'x'], ['p1', 'h'], ['p2', 'h']]);
  const traffic = trafficMatrix([
    { src: 'u', dst: 'p1', rate: 5e-324 },
    { src: 'u', dst: 'p2', rate: 10 },
  ]);
  const capacity = new Map([['x', 2], ['h', 3]]);
  for (const policy of ['load-aware', 'round-robin'] as const) {
    const opts = { policy, migrationCost: 0, maxRounds: 20 } as const;
    const ref = runPolicy({ ...opts, vms, placement, traffic, oracle, capacity, rank: rankOf(vms) });
    assert.deepEqual(ref.steps.map((s) => `${s.decision.vm}>${s.decision.to}`), ['u>h'], `${policy}: the instance is the one described`);
    const inc = new IncrementalPlanner({ vms, placement, traffic, oracle, capacity }).plan(opts);
    assert.deepEqual(moves(inc), moves(ref), `${policy}: the planner moves u to h as runPolicy does`);
  }
});

test('the incremental planner refuses a one-sided traffic matrix, and a bad change list changes nothing', () => {
  const inst = smallInstance(4, { vms: 10, slots: 3 });
  const [a, b, c] = [inst.vms[0]!, inst.vms[1]!, inst.vms[2]!];
  const oneSided: TrafficMatrix = { peers: new Map([[a, new Map([[b, 5]])], [b, new Map()]]) };
  assert.throws(() => new IncrementalPlanner({ ...inst, traffic: oneSided }), (e) => isScoreError(e, 'WORKLOAD_INVALID'), 'a pair with a rate in one row only');
  const planner = new IncrementalPlanner(inst);
  planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 20 });
  const before = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 20 });
  assert.equal(before.steps.length, 0, 'converged: a second plan moves nothing');
  for (const bad of [
    [{ a, b, rate: 7 }, { a: c, b: 'zz', rate: 1 }],
    [{ a, b, rate: 7 }, { a: c, b, rate: -1 }],
    [{ a, b, rate: 7 }, { a: c, b, rate: Number.NaN }],
    // an invalid change inside a run sharing its first name (the name is looked up once per run)
    [{ a, b, rate: 7 }, { a, b: 'zz', rate: 1 }],
    [{ a, b, rate: 7 }, { a, b, rate: -1 }],
  ]) {
    assert.throws(() => planner.updateTraffic(bad), (e) => isScoreError(e, 'WORKLOAD_INVALID'), `refused: ${JSON.stringify(bad)}`);
    const after = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 20 });
    assert.equal(after.asked, 0, `nothing was marked by the refused list ${JSON.stringify(bad)}`);
    assert.equal(after.steps.length, 0, 'nothing moves');
  }
});

/** the partner workload with 256 VMs on `built` (fat-tree(8)), 4, 6 or 8 slots by seed */
function partners256(built: ReturnType<typeof build>, seed: number) {
  const w = generateWorkload(built.topology, { model: 'partners', vms: 256, slotsPerHypervisor: 4 + (seed % 3) * 2, placement: 'random', seed });
  return { w, traffic: trafficMatrix(w.flows), rank: rankOf(w.vms), base: { vms: w.vms, oracle: built.oracle, capacity: w.capacity } };
}

test("a peer's move keeps the memos it cannot change and forgets the others (the benchmark's shape on fat-tree(8), epochs in a row)", () => {
  // a peer moving between two hypervisors other than u's leaves u's R_home and R_away as they were,
  // and u's C_A too when u's hypervisor is as far from both (fat-tree(8) has class costs); one
  // moving from or to u's hypervisor changes them: a memo kept then is stale, and the check (every
  // memo against a fresh sum, to the bit) fails
  const built = build(fatTree(8));
  let held = 0;
  let keys = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const { w, traffic, rank, base } = partners256(built, seed);
    const conv = runPolicy({ ...base, policy: 'load-aware', placement: w.placement, traffic, rank, migrationCost: 0, maxRounds: 20 });
    const flows = churnEpochs(w.flows, 6, 0.1, seededRng(seed));
    const planner = new IncrementalPlanner({ ...base, placement: conv.finalPlacement, traffic });
    planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
    let before = traffic;
    let placement: Placement = conv.finalPlacement;
    for (let e = 1; e < flows.length; e++) {
      const now = trafficMatrix(flows[e]!);
      planner.updateTraffic(diff(before, now));
      const inc = planner.plan({ policy: 'load-aware', migrationCost: 0, maxRounds: 1 });
      const memos = planner.memoCheck();
      assert.ok(memos.consistent, `seed ${seed} epoch ${e}: every remembered home/away answer and C_A is a fresh sum's after ${inc.steps.length} moves`);
      const ref = runPolicy({ ...base, policy: 'load-aware', placement, traffic: now, rank, migrationCost: 0, maxRounds: 1 });
      assert.deepEqual(moves(inc), moves(ref), `seed ${seed} epoch ${e}: the same migrations as from scratch`);
      assert.ok(inc.steps.length > 0, `seed ${seed} epoch ${e}: the epoch moves VMs`);
      held += memos.homeHeld;
      keys += memos.keyHeld;
      placement = inc.finalPlacement;
      before = now;
    }
  }
  assert.ok(held > 0 && keys > 0, `home/away answers (${held}) and C_A sums (${keys}) are remembered after the plans (the check has memos to check)`);
});

test('a plan builds its step records when they are first read, the same records runPolicy makes (rounds, totals, decisions)', () => {
  // the plan keeps each move's round and the total after it in the move log and makes the step
  // objects from it on the first read of `steps`: a log that loses a move's round, or keeps the
  // total before the move as the total after, makes records unlike runPolicy's
  const built = build(fatTree(8));
  let stepsSeen = 0;
  for (let seed = 1; seed <= 3; seed++) {
    const { w, traffic, rank, base } = partners256(built, seed);
    for (const policy of ['load-aware', 'round-robin'] as const) {
      const planner = new IncrementalPlanner({ ...base, placement: w.placement, traffic });
      const inc = planner.plan({ policy, migrationCost: 0, maxRounds: 20 });
      const ref = runPolicy({ ...base, policy, placement: w.placement, traffic, rank, migrationCost: 0, maxRounds: 20 });
      assert.equal(typeof Object.getOwnPropertyDescriptor(inc, 'steps')?.get, 'function', `seed ${seed} ${policy}: steps are built when read`);
      const steps = inc.steps;
      assert.ok(inc.steps === steps, `seed ${seed} ${policy}: a second read gives the same list`);
      assert.ok(new Set(steps.map((s) => s.round)).size > 1, `seed ${seed} ${policy}: the plan moves VMs in more than one round (the rounds are checked)`);
      assert.deepEqual(
        steps.map((s) => [s.step, s.round, JSON.stringify(s.decision)]),
        ref.steps.map((s) => [s.step, s.round, JSON.stringify(s.decision)]),
        `seed ${seed} ${policy}: step numbers, rounds and records as runPolicy's`,
      );
      // integer rates: both totals are exact sums, so they agree to the bit with runPolicy's
      steps.forEach((s, i) => {
        assert.equal(s.totalBefore, i === 0 ? inc.initialCost : steps[i - 1]!.totalAfter, `seed ${seed} ${policy} step ${i + 1}: starts from the last step's total`);
        assert.equal(s.totalAfter, ref.steps[i]!.totalAfter, `seed ${seed} ${policy} step ${i + 1}: total after the move`);
      });
      assert.equal(steps.at(-1)?.totalAfter, inc.finalCost, `seed ${seed} ${policy}: the last step's total is the plan's final cost`);
      assert.deepEqual(JSON.stringify({ ...inc, finalPlacement: undefined, asked: undefined, bounded: undefined, decisions: undefined }), JSON.stringify({ ...inc, finalPlacement: undefined, asked: undefined, bounded: undefined, decisions: undefined, steps }), `seed ${seed} ${policy}: a spread sees the steps`);
      assert.deepEqual(inc.decisions.map((d) => [d.round, d.vm, d.to]), steps.map((s) => [s.round, s.decision.vm, s.decision.to]), `seed ${seed} ${policy}: decisions carry the moves' rounds`);
      stepsSeen += steps.length;
    }
  }
  assert.ok(stepsSeen > 0, 'the plans moved VMs');
});
