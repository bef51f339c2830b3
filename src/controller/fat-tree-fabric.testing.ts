import { fatTree } from '../topologies/generate.ts';
import { addSwitch, attachHost, connect, createFabric } from '../dataplane/fabric.ts';
import * as ctl from './controller.ts';
import type { Dpid } from './commands.ts';
import { type Harness, connectAll } from './fabric-harness.ts';

/** A host's MAC in these fabrics: 02:00:<index, 4 bytes>. */
export const hostMac = (i: number): string =>
  [0x02, 0x00, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':');

/**
 * The switches of fat-tree(k) (k^3/4 ... 5k^2/4 switches: 320 at k = 16) as a fake fabric with
 * `hostsPerEdge` hosts on each edge switch, connected to a fresh controller and its links
 * discovered (LLDP through the fabric). The hosts are attached but have not spoken: the
 * controller does not know them (the quiet hosts of a takeover).
 */
export function fatTreeHarness(k: number, hostsPerEdge: number): Harness & { readonly hosts: string[] } {
  const topo = fatTree(k);
  const fabric = createFabric();
  const dpidOf = new Map<string, Dpid>();
  for (const n of topo.nodes) {
    if (n.kind !== 'switch') continue;
    const d = BigInt(dpidOf.size + 1);
    dpidOf.set(n.id, d);
    addSwitch(fabric, d);
  }
  for (const l of topo.links) if (dpidOf.has(l.a) && dpidOf.has(l.b)) connect(fabric, dpidOf.get(l.a)!, dpidOf.get(l.b)!);
  const hosts: string[] = [];
  for (const [name, d] of dpidOf) {
    if (!name.startsWith('e')) continue;
    for (let i = 0; i < hostsPerEdge; i++) {
      const mac = hostMac(hosts.length + 1);
      attachHost(fabric, mac, d);
      hosts.push(mac);
    }
  }
  const controller = ctl.createController({ nonce: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), names: new Map([...dpidOf].map(([n, d]) => [d, n])) });
  const h = { fabric, controller, dpidOf, now: 0, hosts };
  connectAll(h);
  return h;
}
