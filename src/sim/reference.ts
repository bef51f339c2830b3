import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrafficMatrix } from '../core/cost.ts';
import { totalCost } from '../core/cost.ts';
import { rackMates } from '../core/nearby.ts';
import type { PathOracle } from '../core/paths.ts';
import type { Topology } from '../core/topology.ts';
import { cmp } from '../core/topology.ts';
import { ScoreError } from '../errors/errors.ts';

/**
 * A reference placement at any scale, for benchmarks and the simulator only (the product does
 * not depend on it): hierarchical graph partitioning of the traffic graph with METIS (Karypis &
 * Kumar; Debian's `gpmetis`). The hypervisors form a tree of groups: hosts, racks (hypervisors on
 * the same switches), then racks joined at each larger path cost between them (pods, ...).
 * From the root down, a group's VMs are split among the fewest of its children that hold them
 * (largest first), each child's share proportional to its capacity, with an edge weight per
 * traffic pair (λ scaled to integers) so the cut, the traffic that leaves a child, is small. Each
 * split lets METIS fill a child up to its capacity (slackUfactor): a share of n·c/C VMs is rarely a
 * whole number, and a tighter balance than the slots need makes METIS give up the cut. METIS
 * balances only approximately, so a child over its capacity gives back the VMs that lose least by
 * leaving to a sibling with room, before recursing. The whole is run twice when some split is
 * (nearly) full, the second time with METIS's default 3% allowance and the repair doing the rest,
 * and the lower C_A kept. The result never exceeds capacity. It is a good placement, not an
 * optimum: an upper bound on the best one.
 */
export interface ReferenceInput {
  readonly topology: Topology;
  readonly oracle: PathOracle;
  readonly vms: readonly string[];
  readonly traffic: TrafficMatrix;
  readonly capacity: ReadonlyMap<string, number>;
  /** METIS's seed: the same seed gives the same placement */
  readonly seed?: number;
  /** the gpmetis binary (default: `gpmetis` on PATH) */
  readonly gpmetis?: string;
}

export interface Reference {
  readonly method: 'metis-hierarchical';
  readonly placement: ReadonlyMap<string, string>;
  readonly cost: number;
  /** gpmetis runs made (one per group split in more than one child, per pass: see metisReference) */
  readonly partitions: number;
  /** levels of the group tree above the hosts (e.g. 2 for racks and pods) */
  readonly levels: number;
}

interface Group {
  readonly hosts: readonly string[];
  readonly children: readonly Group[];
  readonly capacity: number;
}

/** the second pass's least ufactor: METIS's own default for k-way partitioning (3%) */
const TRY_UFACTOR = 30;

/**
 * METIS's imbalance allowance (ufactor, in thousandths) for `n` VMs split among children of `capacity`
 * slots in all, with shares in proportion to capacity: each part's target is n·c/C, and
 * (1 + u/1000)·n·c/C ≥ c exactly when u ≥ 1000·(C/n − 1), so every part may fill up to its own
 * capacity and no further. A fixed tight ufactor asks METIS for a balance that is impossible when a
 * share is not a whole number of VMs, and METIS then gives up the cut. Rounded up (an overfilled
 * part is repaired after), at least 1 (a full group: METIS's tightest).
 */
export function slackUfactor(n: number, capacity: number): number {
  if (n <= 0) return 1;
  return Math.max(1, Math.ceil(1000 * (capacity / n - 1) - 1e-9));
}

export function gpmetisAvailable(bin = 'gpmetis'): boolean {
  try {
    execFileSync(bin, ['-help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function missingTool(bin: string, detail: string): ScoreError {
  return new ScoreError('EMULATION_MISSING_TOOL', `gpmetis is not installed (${bin}): ${detail}; install Debian's metis package`, { tool: bin });
}

/**
 * Fails at once when gpmetis cannot be run, so a run asking for the reference does not spend its
 * strategies' minutes first.
 * @throws ScoreError EMULATION_MISSING_TOOL, as metisReference does
 */
export function requireGpmetis(bin = 'gpmetis'): void {
  if (!gpmetisAvailable(bin)) throw missingTool(bin, `${bin} -help could not be run`);
}

/** The group tree: hosts under racks under clusters of racks joined at each larger cost. */
function groupTree(topology: Topology, oracle: PathOracle, capacity: ReadonlyMap<string, number>): { root: Group; levels: number } {
  const cap = (hs: readonly string[]): number => hs.reduce((s, h) => s + (capacity.get(h) ?? 0), 0);
  const leaf = (h: string): Group => ({ hosts: [h], children: [], capacity: capacity.get(h) ?? 0 });
  const mates = rackMates(topology);
  const seen = new Set<string>();
  let level: Group[] = [];
  for (const h of [...topology.hypervisors].sort(cmp)) {
    if (seen.has(h)) continue;
    const hs = [h, ...(mates.get(h) ?? [])].sort(cmp);
    for (const x of hs) seen.add(x);
    level.push({ hosts: hs, children: hs.map(leaf), capacity: cap(hs) });
  }
  let levels = 1;
  const costs = new Set<number>();
  const reps = level.map((g) => g.hosts[0]!);
  for (let i = 0; i < reps.length; i++) for (let j = i + 1; j < reps.length; j++) costs.add(oracle.cost(reps[i]!, reps[j]!));
  const thresholds = [...costs].sort((a, b) => a - b).slice(0, -1);
  for (const t of thresholds) {
    // single linkage at cost ≤ t between the groups' first hosts
    const parent = level.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    for (let i = 0; i < level.length; i++) {
      for (let j = i + 1; j < level.length; j++) {
        if (find(i) !== find(j) && oracle.cost(level[i]!.hosts[0]!, level[j]!.hosts[0]!) <= t) parent[find(j)] = find(i);
      }
    }
    const byRoot = new Map<number, Group[]>();
    level.forEach((g, i) => {
      const r = find(i);
      const list = byRoot.get(r) ?? [];
      list.push(g);
      byRoot.set(r, list);
    });
    if (byRoot.size === level.length || byRoot.size === 1) continue;
    level = [...byRoot.values()].map((children) => {
      const hosts = children.flatMap((c) => c.hosts);
      return { hosts, children, capacity: cap(hosts) };
    });
    levels += 1;
  }
  const hosts = level.flatMap((g) => g.hosts);
  return { root: level.length === 1 ? level[0]! : { hosts, children: level, capacity: cap(hosts) }, levels: level.length === 1 ? levels : levels + 1 };
}

/**
 * @throws ScoreError CAPACITY_EXCEEDED (more VMs than slots), EMULATION_MISSING_TOOL (gpmetis not
 *   installed), EMULATION_COMMAND (gpmetis failed), INTERNAL (a part over its slots with no sibling to give to: a bug)
 */
export function metisReference(input: ReferenceInput): Reference {
  const { topology, oracle, traffic, capacity } = input;
  const bin = input.gpmetis ?? 'gpmetis';
  const vms = [...input.vms];
  const index = new Map(vms.map((v, i) => [v, i]));
  // integer edge weights: λ scaled so the largest is 10^6 and the total stays far below 2^31
  let maxRate = 0;
  let sumRate = 0;
  const adj: [number, number][][] = vms.map(() => []);
  for (const [u, peers] of traffic.peers) {
    const i = index.get(u);
    if (i === undefined) continue;
    for (const [v, r] of peers) {
      const j = index.get(v);
      if (j === undefined || j === i || !(r > 0)) continue;
      adj[i]!.push([j, r]);
      if (r > maxRate) maxRate = r;
      sumRate += r;
    }
  }
  const scale = maxRate === 0 ? 1 : Math.min(1e6 / maxRate, 1e9 / sumRate);
  const weight = (r: number): number => Math.max(1, Math.round(r * scale));
  const { root, levels } = groupTree(topology, oracle, capacity);
  if (vms.length > root.capacity) throw new ScoreError('CAPACITY_EXCEEDED', `${vms.length} VMs do not fit in ${root.capacity} slots`);
  let placement = new Map<string, string>();
  const dir = mkdtempSync(join(tmpdir(), 'score-metis-'));
  let partitions = 0;
  // the least ufactor a split gets whatever its slack (1 in pass 1, TRY_UFACTOR in pass 2); tight: some split's slack was below TRY_UFACTOR, so pass 2 would differ
  let floor = 1;
  let tight = false;
  try {
    const assign = (g: Group, members: number[]): void => {
      if (members.length === 0) return;
      if (g.children.length === 0) {
        for (const m of members) placement.set(vms[m]!, g.hosts[0]!);
        return;
      }
      const kids = [...g.children].sort((a, b) => b.capacity - a.capacity || cmp(a.hosts[0]!, b.hosts[0]!));
      const used: Group[] = [];
      let room = 0;
      for (const k of kids) {
        if (room >= members.length) break;
        used.push(k);
        room += k.capacity;
      }
      if (used.length === 1) {
        assign(used[0]!, members);
        return;
      }
      const part = split(members, used.map((k) => k.capacity));
      partitions += 1;
      used.forEach((k, p) => assign(k, members.filter((_, i) => part[i] === p)));
    };

    const split = (members: number[], caps: number[]): number[] => {
      const local = new Map(members.map((m, i) => [m, i]));
      const lines: string[] = [];
      let edges = 0;
      for (const m of members) {
        const row: string[] = [];
        for (const [j, r] of adj[m]!) {
          const lj = local.get(j);
          if (lj === undefined) continue;
          row.push(`${lj + 1} ${weight(r)}`);
          edges += 1;
        }
        lines.push(row.join(' '));
      }
      const file = join(dir, `g${partitions}`);
      writeFileSync(file, `${members.length} ${edges / 2} 001\n${lines.join('\n')}\n`);
      const total = caps.reduce((a, b) => a + b, 0);
      const tp = join(dir, `t${partitions}`);
      // shares of the VMs in proportion to capacity; METIS wants them to sum to 1
      writeFileSync(tp, caps.map((c, p) => `${p} = ${(c / total).toFixed(6)}`).join('\n') + '\n');
      const k = caps.length;
      const slack = slackUfactor(members.length, total);
      if (slack < TRY_UFACTOR) tight = true;
      const ufactor = Math.max(floor, slack);
      try {
        execFileSync(bin, [`-seed=${input.seed ?? 1}`, `-ufactor=${ufactor}`, `-tpwgts=${tp}`, file, String(k)], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
      } catch (e) {
        // not installed is a missing tool; a gpmetis that ran and failed is a failed command (exit 1 both: not the user's option)
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool(bin, (e as Error).message);
        // gpmetis's own words on what went wrong (its stdout is a long report, left out)
        const raw = (e as { stderr?: Buffer | string }).stderr;
        const stderr = (raw === undefined ? '' : raw.toString()).trim();
        throw new ScoreError('EMULATION_COMMAND', `gpmetis failed (${bin}): ${(e as Error).message.split('\n')[0]}${stderr === '' ? '' : `; stderr: ${stderr}`}`, { tool: bin, ...(stderr === '' ? {} : { stderr }) });
      }
      const part = readFileSync(`${file}.part.${k}`, 'utf8').trim().split('\n').map(Number);
      repair(members, part, caps, local);
      return part;
    };

    /** moves VMs out of over-full parts, the ones losing least first, to the sibling they talk to most */
    const repair = (members: number[], part: number[], caps: number[], local: Map<number, number>): void => {
      const count = caps.map(() => 0);
      for (const p of part) count[p]! += 1;
      for (let p = 0; p < caps.length; p++) {
        while (count[p]! > caps[p]!) {
          let best: { i: number; q: number; loss: number } | null = null;
          members.forEach((m, i) => {
            if (part[i] !== p) return;
            const to = caps.map(() => 0);
            for (const [j, r] of adj[m]!) {
              const lj = local.get(j);
              if (lj !== undefined) to[part[lj]!]! += r;
            }
            for (let q = 0; q < caps.length; q++) {
              if (q === p || count[q]! >= caps[q]!) continue;
              const loss = to[p]! - to[q]!;
              if (best === null || loss < best.loss) best = { i, q, loss };
            }
          });
          // a group's members fit its children's capacity (checked at the root, kept by every split)
          if (best === null) throw new ScoreError('INTERNAL', `METIS reference: part ${p} is over its ${caps[p]} slots and no sibling has room`, { part: p, capacity: caps[p] });
          const b = best as { i: number; q: number };
          part[b.i] = b.q;
          count[p]! -= 1;
          count[b.q]! += 1;
        }
      }
    };

    // Pass 1: each split may fill its children up to capacity. Pass 2 (only if some split had less
    // slack than TRY_UFACTOR): METIS may overfill by up to 3%, and repair gives the surplus back;
    // on a nearly full group that can find a smaller cut. Kept: the lower C_A (ties: pass 1).
    assign(root, vms.map((_, i) => i));
    let cost = totalCost(placement, traffic, oracle);
    if (tight) {
      const first = placement;
      placement = new Map();
      floor = TRY_UFACTOR;
      assign(root, vms.map((_, i) => i));
      const second = totalCost(placement, traffic, oracle);
      if (second < cost) cost = second;
      else placement = first;
    }
    return { method: 'metis-hierarchical', placement, cost, partitions, levels };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
