import type { PathOracle } from './paths.ts';

/**
 * The cost model of section II. λ(u, v) is the traffic u and v exchange, both directions added,
 * in bytes per second. A path's cost is the sum of the weights of all its links (for a symmetric
 * tree that is the paper's 2·Σ c_i up to level ℓ). So:
 *   flow cost      λ(u, v) · pathCost(x_u, x_v)           (0 when collocated)
 *   C_A(u), Eq. 1  Σ_{v ∈ V_u} λ(u, v) · pathCost
 *   C_A,    Eq. 2  Σ over unordered pairs = ½ Σ_u C_A(u)
 *   Eq. 3          u moves x → x̂ only if C_A(u) − C_{A, u→x̂}(u) > c_m
 */
export type Placement = ReadonlyMap<string, string>;

export interface DirectedFlow {
  readonly src: string;
  readonly dst: string;
  /** bytes per second */
  readonly rate: number;
}

export interface TrafficMatrix {
  /** λ(u, ·): symmetric; λ(u, v) === λ(v, u) */
  readonly peers: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export function trafficMatrix(flows: readonly DirectedFlow[]): TrafficMatrix {
  const peers = new Map<string, Map<string, number>>();
  const add = (u: string, v: string, r: number): void => {
    let m = peers.get(u);
    if (m === undefined) {
      m = new Map();
      peers.set(u, m);
    }
    m.set(v, (m.get(v) ?? 0) + r);
  };
  for (const f of flows) {
    if (f.src === f.dst || !(f.rate > 0)) continue;
    add(f.src, f.dst, f.rate);
    add(f.dst, f.src, f.rate);
  }
  return { peers };
}

export function lambda(t: TrafficMatrix, u: string, v: string): number {
  return t.peers.get(u)?.get(v) ?? 0;
}

function hostOf(placement: Placement, vm: string): string {
  const h = placement.get(vm);
  if (h === undefined) throw new Error(`VM ${vm} has no placement`);
  return h;
}

/** C_A(u) (Eq. 1) with u placed on `at` (its current host unless given), every peer where it is. */
export function vmCost(u: string, placement: Placement, traffic: TrafficMatrix, oracle: PathOracle, at?: string): number {
  const x = at ?? hostOf(placement, u);
  let sum = 0;
  for (const [v, rate] of traffic.peers.get(u) ?? []) {
    sum += rate * oracle.cost(x, hostOf(placement, v));
  }
  return sum;
}

/** C_A (Eq. 2): every communicating pair counted once. */
export function totalCost(placement: Placement, traffic: TrafficMatrix, oracle: PathOracle): number {
  let sum = 0;
  for (const [u, peers] of traffic.peers) {
    const x = hostOf(placement, u);
    for (const [v, rate] of peers) {
      if (u < v) sum += rate * oracle.cost(x, hostOf(placement, v));
    }
  }
  return sum;
}

/** Eq. 3: the saving must exceed the migration cost c_m. */
export function worthMigrating(costNow: number, costAfter: number, migrationCost: number): boolean {
  // Sums taken in a different order can differ in the last bits; such noise is no saving.
  const noise = 1e-9 * Math.max(1, Math.abs(costNow));
  return costNow - costAfter > migrationCost + noise;
}
