import type { LinkSpec, TopoNode } from '../core/topology.ts';

/**
 * Data-centre topologies as plain data (describing is separate from building, as in Mininet).
 * Names: hypervisors `h<n>`, edge/ToR `e<n>`/`t<n>`, aggregation `a<n>`, core `c<n>`,
 * leaves `l<n>`, spines `s<n>`, numbered from 1. `expectedLayer` says which link layer each
 * link must get from the link learner (1 = hypervisor-ToR ... ), for tests and reports.
 */
export interface GeneratedTopology {
  readonly name: string;
  readonly nodes: readonly TopoNode[];
  readonly links: readonly (LinkSpec & { readonly expectedLayer: number })[];
}

/** Al-Fares et al. fat-tree(k): k pods, k/2 edge + k/2 aggregation per pod, (k/2)^2 cores, k/2 hosts per edge. */
export function fatTree(k: number, capacities: { host?: number; edge?: number; agg?: number } = {}): GeneratedTopology {
  if (k < 2 || k % 2 !== 0) throw new RangeError(`fat-tree k must be even and >= 2, got ${k}`);
  const half = k / 2;
  const nodes: TopoNode[] = [];
  const links: (LinkSpec & { expectedLayer: number })[] = [];
  const capHost = capacities.host ?? 10e9;
  const capEdge = capacities.edge ?? 10e9;
  const capAgg = capacities.agg ?? 10e9;
  for (let c = 1; c <= half * half; c++) nodes.push({ id: `c${c}`, kind: 'switch' });
  let h = 0;
  for (let p = 0; p < k; p++) {
    for (let i = 1; i <= half; i++) {
      const agg = `a${p * half + i}`;
      nodes.push({ id: agg, kind: 'switch' });
      // aggregation switch i of each pod connects to cores (i-1)*half+1 .. i*half
      for (let j = 1; j <= half; j++) links.push({ a: agg, b: `c${(i - 1) * half + j}`, capacityBps: capAgg, expectedLayer: 3 });
    }
    for (let i = 1; i <= half; i++) {
      const edge = `e${p * half + i}`;
      nodes.push({ id: edge, kind: 'switch' });
      for (let j = 1; j <= half; j++) links.push({ a: edge, b: `a${p * half + j}`, capacityBps: capEdge, expectedLayer: 2 });
      for (let j = 0; j < half; j++) {
        const host = `h${++h}`;
        nodes.push({ id: host, kind: 'hypervisor' });
        links.push({ a: host, b: edge, capacityBps: capHost, expectedLayer: 1 });
      }
    }
  }
  return { name: `fat-tree(${k})`, nodes, links };
}

export interface ThreeTierOptions {
  readonly pods: number;
  readonly torsPerPod: number;
  readonly hypervisorsPerTor: number;
  /** aggregation switches per pod, each ToR connects to all of them (default 2) */
  readonly aggPerPod?: number;
  /** core switches, every aggregation switch connects to all (default 2) */
  readonly cores?: number;
  /** link capacities in bits/s; defaults give 10:5:2.5, the paper's scaled oversubscription */
  readonly capacity?: { readonly access?: number; readonly tor?: number; readonly agg?: number };
}

/** The canonical (Cisco-style) three-tier tree the paper uses, any size. */
export function threeTier(o: ThreeTierOptions): GeneratedTopology {
  const aggPerPod = o.aggPerPod ?? 2;
  const cores = o.cores ?? 2;
  const capAccess = o.capacity?.access ?? 10e6;
  const capTor = o.capacity?.tor ?? 5e6;
  const capAgg = o.capacity?.agg ?? 2.5e6;
  const nodes: TopoNode[] = [];
  const links: (LinkSpec & { expectedLayer: number })[] = [];
  for (let c = 1; c <= cores; c++) nodes.push({ id: `c${c}`, kind: 'switch' });
  let t = 0;
  let h = 0;
  for (let p = 0; p < o.pods; p++) {
    const aggs: string[] = [];
    for (let i = 1; i <= aggPerPod; i++) {
      const agg = `a${p * aggPerPod + i}`;
      aggs.push(agg);
      nodes.push({ id: agg, kind: 'switch' });
      for (let c = 1; c <= cores; c++) links.push({ a: agg, b: `c${c}`, capacityBps: capAgg, expectedLayer: 3 });
    }
    for (let i = 0; i < o.torsPerPod; i++) {
      const tor = `t${++t}`;
      nodes.push({ id: tor, kind: 'switch' });
      for (const agg of aggs) links.push({ a: tor, b: agg, capacityBps: capTor, expectedLayer: 2 });
      for (let j = 0; j < o.hypervisorsPerTor; j++) {
        const hv = `h${++h}`;
        nodes.push({ id: hv, kind: 'hypervisor' });
        links.push({ a: hv, b: tor, capacityBps: capAccess, expectedLayer: 1 });
      }
    }
  }
  return { name: `three-tier(${o.pods}x${o.torsPerPod}x${o.hypervisorsPerTor})`, nodes, links };
}

/** Two-layer Clos: every leaf to every spine. */
export function leafSpine(o: { leaves: number; spines: number; hypervisorsPerLeaf: number; capacity?: number }): GeneratedTopology {
  const cap = o.capacity ?? 10e9;
  const nodes: TopoNode[] = [];
  const links: (LinkSpec & { expectedLayer: number })[] = [];
  for (let s = 1; s <= o.spines; s++) nodes.push({ id: `s${s}`, kind: 'switch' });
  let h = 0;
  for (let l = 1; l <= o.leaves; l++) {
    nodes.push({ id: `l${l}`, kind: 'switch' });
    for (let s = 1; s <= o.spines; s++) links.push({ a: `l${l}`, b: `s${s}`, capacityBps: cap, expectedLayer: 2 });
    for (let j = 0; j < o.hypervisorsPerLeaf; j++) {
      const hv = `h${++h}`;
      nodes.push({ id: hv, kind: 'hypervisor' });
      links.push({ a: hv, b: `l${l}`, capacityBps: cap, expectedLayer: 1 });
    }
  }
  return { name: `leaf-spine(${o.leaves}x${o.spines})`, nodes, links };
}
