import type { PathOracle } from './paths.ts';
import type { Placement, TrafficMatrix } from './cost.ts';
import { vmCost, worthMigrating } from './cost.ts';

/**
 * Algorithm 1 of the paper, run for one VM by its hypervisor. Candidates are the hosts of u's
 * peers, taken flow by flow from the flow with the highest communication cost (bytes × path
 * weight) down to the first collocated one (cost 0, where the paper's loop stops). Mode `first`
 * migrates to the first candidate that satisfies Eq. 3, exactly as the paper; mode `best`
 * evaluates every candidate and takes the cheapest one that satisfies it. A hypervisor at
 * capacity is never a target.
 */
export type DecisionMode = 'first' | 'best';

export type CandidateVerdict = 'chosen' | 'improves' | 'no-gain' | 'full' | 'not-evaluated';

export interface Candidate {
  readonly hypervisor: string;
  /** the peer whose flow proposed this candidate */
  readonly viaPeer: string;
  /** that flow's communication cost now (λ × path cost) */
  readonly flowCost: number;
  /** C_A(u) if u moved there; null when not evaluated (full, or `first` mode stopped earlier) */
  readonly costThere: number | null;
  readonly verdict: CandidateVerdict;
}

export interface Decision {
  readonly vm: string;
  readonly from: string;
  /** the target, or null to stay */
  readonly to: string | null;
  readonly costBefore: number;
  /** C_A(u) at the target, or costBefore when staying */
  readonly costAfter: number;
  readonly migrationCost: number;
  readonly mode: DecisionMode;
  readonly candidates: readonly Candidate[];
  readonly reason: string;
}

export interface DecisionInput {
  readonly vm: string;
  readonly placement: Placement;
  readonly traffic: TrafficMatrix;
  readonly oracle: PathOracle;
  /** VMs each hypervisor may host */
  readonly capacity: ReadonlyMap<string, number>;
  /** VMs each hypervisor hosts now */
  readonly load: ReadonlyMap<string, number>;
  readonly migrationCost: number;
  readonly mode: DecisionMode;
  /** tie-break order of VMs (lower first); the paper's "lower VM number" */
  readonly rank: ReadonlyMap<string, number>;
}

export function decide(input: DecisionInput): Decision {
  const { vm, placement, traffic, oracle, capacity, load, migrationCost, mode, rank } = input;
  const from = placement.get(vm);
  if (from === undefined) throw new Error(`VM ${vm} has no placement`);
  const costBefore = vmCost(vm, placement, traffic, oracle);

  const flows: { peer: string; host: string; cost: number }[] = [];
  for (const [peer, rate] of traffic.peers.get(vm) ?? []) {
    const host = placement.get(peer);
    if (host === undefined) continue;
    const cost = rate * oracle.cost(from, host);
    if (cost > 0) flows.push({ peer, host, cost });
  }
  flows.sort((a, b) => b.cost - a.cost || (rank.get(a.peer) ?? 0) - (rank.get(b.peer) ?? 0));

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  let chosen: { host: string; cost: number; index: number } | null = null;
  for (const f of flows) {
    if (seen.has(f.host)) continue;
    seen.add(f.host);
    if (mode === 'first' && chosen !== null) {
      candidates.push({ hypervisor: f.host, viaPeer: f.peer, flowCost: f.cost, costThere: null, verdict: 'not-evaluated' });
      continue;
    }
    if ((load.get(f.host) ?? 0) >= (capacity.get(f.host) ?? 0)) {
      candidates.push({ hypervisor: f.host, viaPeer: f.peer, flowCost: f.cost, costThere: null, verdict: 'full' });
      continue;
    }
    const costThere = vmCost(vm, placement, traffic, oracle, f.host);
    const improves = worthMigrating(costBefore, costThere, migrationCost);
    candidates.push({ hypervisor: f.host, viaPeer: f.peer, flowCost: f.cost, costThere, verdict: improves ? 'improves' : 'no-gain' });
    if (improves && (chosen === null || costThere < chosen.cost)) {
      chosen = { host: f.host, cost: costThere, index: candidates.length - 1 };
    }
  }

  if (chosen === null) {
    const reason =
      flows.length === 0
        ? costBefore === 0 && (traffic.peers.get(vm)?.size ?? 0) > 0
          ? 'already collocated with every peer'
          : 'no traffic'
        : candidates.every((c) => c.verdict === 'full')
          ? 'every candidate hypervisor is full'
          : `no candidate saves more than c_m = ${migrationCost}`;
    return { vm, from, to: null, costBefore, costAfter: costBefore, migrationCost, mode, candidates, reason };
  }
  const final = candidates.map((c, i) => (i === chosen.index ? { ...c, verdict: 'chosen' as const } : c));
  const via = final[chosen.index]!.viaPeer;
  return {
    vm,
    from,
    to: chosen.host,
    costBefore,
    costAfter: chosen.cost,
    migrationCost,
    mode,
    candidates: final,
    reason: `moving next to ${via} on ${chosen.host} cuts C_A(${vm}) from ${fmt(costBefore)} to ${fmt(chosen.cost)} (saving ${fmt(costBefore - chosen.cost)} > c_m ${fmt(migrationCost)})`,
  };
}

function fmt(x: number): string {
  return String(+x.toFixed(2));
}
