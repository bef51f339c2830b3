import { ScoreError } from '../errors/errors.ts';

/**
 * The data-centre graph as the core sees it: switches and hypervisors (each hypervisor is its own
 * virtual switch, as in the paper), joined by undirected links with a capacity. VMs are not nodes:
 * they sit on hypervisors (see placement in cost.ts).
 */
export type NodeKind = 'hypervisor' | 'switch';

export interface TopoNode {
  readonly id: string;
  readonly kind: NodeKind;
}

export interface LinkSpec {
  readonly a: string;
  readonly b: string;
  /** bits per second */
  readonly capacityBps: number;
  /** explicit id; defaults to linkId(a, b) */
  readonly id?: string;
}

export interface TopoLink {
  readonly id: string;
  readonly a: string;
  readonly b: string;
  readonly capacityBps: number;
}

export interface Adjacent {
  readonly neighbour: string;
  readonly link: TopoLink;
}

export interface Topology {
  readonly nodes: ReadonlyMap<string, TopoNode>;
  readonly links: readonly TopoLink[];
  readonly linkById: ReadonlyMap<string, TopoLink>;
  readonly adjacency: ReadonlyMap<string, readonly Adjacent[]>;
  readonly hypervisors: readonly string[];
}

/** Canonical, order-independent link name, so `a-b` and `b-a` are the same link. */
export function linkId(a: string, b: string): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export function buildTopology(nodes: readonly TopoNode[], links: readonly LinkSpec[]): Topology {
  const nodeMap = new Map<string, TopoNode>();
  for (const n of nodes) {
    if (nodeMap.has(n.id)) {
      throw new ScoreError('TOPOLOGY_INVALID', `node "${n.id}" is defined twice`, { node: n.id });
    }
    nodeMap.set(n.id, n);
  }
  const adjacency = new Map<string, Adjacent[]>();
  for (const id of nodeMap.keys()) adjacency.set(id, []);
  const linkById = new Map<string, TopoLink>();
  const out: TopoLink[] = [];
  for (const spec of links) {
    for (const end of [spec.a, spec.b]) {
      if (!nodeMap.has(end)) {
        throw new ScoreError('TOPOLOGY_INVALID', `link ${spec.a}-${spec.b} names unknown node "${end}"`, {
          link: `${spec.a}-${spec.b}`,
          node: end,
        });
      }
    }
    if (spec.a === spec.b) {
      throw new ScoreError('TOPOLOGY_INVALID', `link ${spec.a}-${spec.b} joins a node to itself`, { node: spec.a });
    }
    if (!(spec.capacityBps > 0) || !Number.isFinite(spec.capacityBps)) {
      throw new ScoreError('TOPOLOGY_INVALID', `link ${spec.a}-${spec.b} needs a positive capacity`, {
        link: `${spec.a}-${spec.b}`,
      });
    }
    const id = spec.id ?? linkId(spec.a, spec.b);
    if (linkById.has(id)) {
      throw new ScoreError('TOPOLOGY_INVALID', `link "${id}" is defined twice`, { link: id });
    }
    const link: TopoLink = { id, a: spec.a, b: spec.b, capacityBps: spec.capacityBps };
    linkById.set(id, link);
    out.push(link);
    adjacency.get(spec.a)?.push({ neighbour: spec.b, link });
    adjacency.get(spec.b)?.push({ neighbour: spec.a, link });
  }
  // Neighbour order decides nothing by itself (paths break ties by id), but a stable order keeps
  // every traversal reproducible whatever order the links were discovered in.
  for (const list of adjacency.values()) list.sort((x, y) => cmp(x.neighbour, y.neighbour) || cmp(x.link.id, y.link.id));
  const hypervisors = [...nodeMap.values()].filter((n) => n.kind === 'hypervisor').map((n) => n.id);
  return { nodes: nodeMap, links: out, linkById, adjacency, hypervisors };
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function otherEnd(link: TopoLink, node: string): string {
  return link.a === node ? link.b : link.a;
}
