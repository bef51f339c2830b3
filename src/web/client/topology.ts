import type { Topology } from '../../api/contract.ts';
import { svg } from './dom.ts';
import { formatPercent, layoutTopology, linkLayerName, naturalCompare, utilisationColour, utilisationWidth, type TopologyLayout } from './layout.ts';

/**
 * The network drawn by layer. Links and switches are redrawn when the topology or its rates
 * change; VM elements persist, so a migration moves the same element (CSS transition) and its
 * `data-host` changes.
 */
export class TopologyView {
  private layout: TopologyLayout | null = null;
  private readonly vms = new Map<string, SVGGElement>();
  private readonly hostOf = new Map<string, string>();
  private readonly base: SVGGElement;
  private readonly vmLayer: SVGGElement;
  private vmRows = 3;

  constructor(private readonly root: SVGSVGElement) {
    this.base = svg('g', { class: 'net' });
    this.vmLayer = svg('g', { class: 'vms' });
    root.replaceChildren(this.base, this.vmLayer);
  }

  /** capacity: the most VMs any hypervisor may host, so columns have room for them all */
  render(t: Topology, capacity: number): void {
    this.vmRows = Math.max(3, capacity);
    const layout = layoutTopology(t.switches, t.links, { width: 960, vmRows: this.vmRows });
    this.layout = layout;
    this.root.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
    const maxLayer = Math.max(0, ...t.links.map((l) => l.layer));
    const busiest = Math.max(0, ...t.links.map((l) => l.utilisation));
    const parts: SVGElement[] = [];
    for (const r of layout.rows) parts.push(svg('text', { class: 'row-label', x: 6, y: r.y + 4, 'data-layer': r.layer }, r.label));
    for (const l of t.links) {
      const a = layout.nodes.get(l.a.switch);
      const b = layout.nodes.get(l.b.switch);
      if (a === undefined || b === undefined) continue;
      const g = svg('g', { class: 'link', 'data-link': l.id, 'data-layer': l.layer, 'data-weight': l.weight, 'data-utilisation': l.utilisation });
      const line = svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: utilisationColour(l.utilisation, busiest), 'stroke-width': utilisationWidth(l.utilisation, busiest) });
      if (!(l.utilisation > 0)) line.setAttribute('stroke-dasharray', '4 3');
      const mbps = (bps: number): string => `${(bps / 1e6).toFixed(3)} Mb/s`;
      line.append(
        svg(
          'title',
          {},
          `${l.id} (${linkLayerName(l.layer, maxLayer)})\nweight ${l.weight}\nutilisation ${formatPercent(l.utilisation)} of ${mbps(l.capacityBps)}\n${l.a.switch}→${l.b.switch} ${mbps(l.abBps)}, ${l.b.switch}→${l.a.switch} ${mbps(l.baBps)}`,
        ),
      );
      // The label sits a third of the way down from the upper end, where links fan out most.
      const [hi, lo] = a.y < b.y ? [a, b] : [b, a];
      const lx = hi.x + (lo.x - hi.x) * 0.3;
      const ly = hi.y + (lo.y - hi.y) * 0.3;
      g.append(line, svg('text', { class: 'weight', x: lx, y: ly }, String(l.weight)));
      parts.push(g);
    }
    for (const s of t.switches) {
      const p = layout.nodes.get(s.name);
      if (p === undefined) continue;
      const g = svg('g', { class: `switch ${s.kind}`, 'data-switch': s.name, 'data-kind': s.kind, transform: `translate(${p.x} ${p.y})` });
      const w = s.kind === 'hypervisor' ? 46 : 38;
      g.append(svg('rect', { x: -w / 2, y: -11, width: w, height: 22, rx: s.kind === 'hypervisor' ? 3 : 11 }), svg('text', { y: 4 }, s.name));
      parts.push(g);
    }
    this.base.replaceChildren(...parts);
    this.placeVms(false);
  }

  setHosts(hosts: ReadonlyMap<string, string>): void {
    for (const [vm, hv] of hosts) this.hostOf.set(vm, hv);
    for (const vm of [...this.hostOf.keys()]) if (!hosts.has(vm)) this.hostOf.delete(vm);
    this.placeVms(false);
  }

  moveVm(vm: string, to: string): void {
    this.hostOf.set(vm, to);
    this.placeVms(true, vm);
  }

  private placeVms(animate: boolean, moved?: string): void {
    const layout = this.layout;
    if (layout === null) return;
    const byHost = new Map<string, string[]>();
    for (const [vm, hv] of this.hostOf) byHost.set(hv, [...(byHost.get(hv) ?? []), vm]);
    for (const [hv, vms] of byHost) {
      vms.sort(naturalCompare).forEach((vm, i) => {
        let g = this.vms.get(vm);
        if (g === undefined) {
          g = svg('g', { class: 'vm', 'data-vm': vm });
          g.append(svg('circle', { r: 9 }), svg('text', { y: 3 }, vm.replace(/^vm/, '')), svg('title', {}, vm));
          this.vms.set(vm, g);
          this.vmLayer.append(g);
        }
        const p = layout.vmSlot(hv, i);
        g.setAttribute('data-host', hv);
        g.querySelector('title')!.textContent = `${vm} on ${hv}`;
        g.classList.toggle('animate', animate);
        g.style.transform = `translate(${p.x}px, ${p.y}px)`;
        if (vm === moved) {
          g.classList.remove('moved');
          // Restart the highlight even when the same VM moves twice in a row.
          void g.getBoundingClientRect();
          g.classList.add('moved');
        }
      });
    }
    for (const [vm, g] of this.vms) {
      if (!this.hostOf.has(vm)) {
        g.remove();
        this.vms.delete(vm);
      }
    }
  }
}
