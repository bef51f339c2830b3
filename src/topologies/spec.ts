import { ScoreError } from '../errors/errors.ts';
import { fatTree, leafSpine, threeTier, type GeneratedTopology } from './generate.ts';

/**
 * Topologies named on the command line, so a scale run needs no scenario file:
 *   fat-tree:K                      Al-Fares fat-tree, K even (K^3/4 hypervisors)
 *   three-tier:PODSxTORSxHOSTS      canonical 3-tier, 2 aggregation switches per pod, 2 cores
 *   leaf-spine:LEAVESxSPINESxHOSTS  two-layer Clos
 * Oversubscription `tor:agg` (three-tier only) sets the uplink capacities from the access
 * capacity: a ToR's uplinks together carry 1/tor of what its hypervisors can send, an
 * aggregation switch's core uplinks 1/agg of what its ToRs send up (Cisco's 3-tier guidance and
 * the paper's 10:5:2.5 scaling both read this way).
 */
export interface TopologySpecOptions {
  /** `tor:agg` ratios, e.g. "2.5:4"; three-tier only */
  readonly oversubscription?: string;
  /** hypervisor access link capacity in bits/s (default 10 Gb/s) */
  readonly accessBps?: number;
}

const ACCESS_BPS = 10e9;

function ints(spec: string, text: string, count: number): number[] {
  const parts = text.split('x');
  const ns = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length !== count || ns.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new ScoreError('CLI_USAGE', `topology "${spec}": expected ${count === 1 ? 'a positive integer' : `${count} positive integers joined by "x"`}`, { topology: spec });
  }
  return ns;
}

export function parseOversubscription(text: string): { tor: number; agg: number } {
  const parts = text.split(':').map(Number);
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n) || n < 1)) {
    throw new ScoreError('CLI_USAGE', `--oversubscription: expected "tor:agg" with ratios >= 1 (e.g. 2.5:4), got "${text}"`);
  }
  return { tor: parts[0]!, agg: parts[1]! };
}

/**
 * The most hypervisors a spec may name. A simulator run holds every node, link and VM in memory:
 * a typo such as fat-tree:200 (2 million hypervisors) ran minutes into V8's heap limit before; now
 * it is refused at once. fat-tree:64 (65,536 hypervisors) is within it.
 */
export const MAX_SPEC_HYPERVISORS = 131_072;
/** The most links (every link, hypervisor uplinks included) a spec may name: a leaf-spine's leaves × spines grows fast. */
export const MAX_SPEC_LINKS = 1_000_000;

/**
 * How many hypervisors and links the generators make for a spec's numbers, without making them:
 * fat-tree [k]: k³/4 hypervisors, each on one edge link, plus k³/4 edge-aggregation and k³/4
 * aggregation-core links; three-tier [pods, tors, hosts] with 2 aggregation switches per pod and
 * 2 cores; leaf-spine [leaves, spines, hosts].
 */
export function specSize(kind: 'fat-tree' | 'three-tier' | 'leaf-spine', n: readonly number[]): { hypervisors: number; links: number } {
  if (kind === 'fat-tree') return { hypervisors: n[0]! ** 3 / 4, links: (3 * n[0]! ** 3) / 4 };
  if (kind === 'three-tier') {
    const [pods, tors, hosts] = n as [number, number, number];
    return { hypervisors: pods * tors * hosts, links: pods * tors * (hosts + 2) + pods * 2 * 2 };
  }
  const [leaves, spines, hosts] = n as [number, number, number];
  return { hypervisors: leaves * hosts, links: leaves * (hosts + spines) };
}

function checkSize(spec: string, size: { hypervisors: number; links: number }): void {
  const { hypervisors, links } = size;
  if (hypervisors > MAX_SPEC_HYPERVISORS || links > MAX_SPEC_LINKS) {
    throw new ScoreError(
      'CLI_USAGE',
      `topology "${spec}": too large (${hypervisors.toLocaleString('en')} hypervisors, ${links.toLocaleString('en')} links; at most ${MAX_SPEC_HYPERVISORS.toLocaleString('en')} hypervisors and ${MAX_SPEC_LINKS.toLocaleString('en')} links: fat-tree:64 has 65,536 hypervisors)`,
      { topology: spec, hypervisors, links },
    );
  }
}

/**
 * A generated topology from its spec (above). Errors: CLI_USAGE for a malformed spec, an odd
 * fat-tree k, --oversubscription off three-tier, or a size past MAX_SPEC_HYPERVISORS/LINKS.
 */
export function topologyFromSpec(spec: string, options: TopologySpecOptions = {}): GeneratedTopology {
  const m = /^([a-z-]+):(.+)$/.exec(spec.trim());
  const access = options.accessBps ?? ACCESS_BPS;
  if (options.oversubscription !== undefined && m?.[1] !== 'three-tier') {
    throw new ScoreError('CLI_USAGE', `--oversubscription applies to three-tier topologies only, not "${spec}"`);
  }
  switch (m?.[1]) {
    case 'fat-tree': {
      const [k] = ints(spec, m[2]!, 1);
      if (k! % 2 !== 0) throw new ScoreError('CLI_USAGE', `topology "${spec}": fat-tree k must be even`, { topology: spec });
      checkSize(spec, specSize('fat-tree', [k!]));
      return fatTree(k!, { host: access, edge: access, agg: access });
    }
    case 'three-tier': {
      const [pods, torsPerPod, hypervisorsPerTor] = ints(spec, m[2]!, 3) as [number, number, number];
      const aggPerPod = 2;
      const cores = 2;
      checkSize(spec, specSize('three-tier', [pods, torsPerPod, hypervisorsPerTor]));
      const o = parseOversubscription(options.oversubscription ?? '1:1');
      const tor = (hypervisorsPerTor * access) / (aggPerPod * o.tor);
      const agg = (torsPerPod * tor) / (cores * o.agg);
      return threeTier({ pods, torsPerPod, hypervisorsPerTor, aggPerPod, cores, capacity: { access, tor, agg } });
    }
    case 'leaf-spine': {
      const [leaves, spines, hypervisorsPerLeaf] = ints(spec, m[2]!, 3) as [number, number, number];
      checkSize(spec, specSize('leaf-spine', [leaves, spines, hypervisorsPerLeaf]));
      return leafSpine({ leaves, spines, hypervisorsPerLeaf, capacity: access });
    }
    default:
      throw new ScoreError('CLI_USAGE', `topology "${spec}": expected fat-tree:K, three-tier:PODSxTORSxHOSTS or leaf-spine:LEAVESxSPINESxHOSTS`, {
        topology: spec,
      });
  }
}
