import { totalCost, trafficMatrix, vmCost } from '../core/cost.ts';
import type { PolicyName } from '../core/policies.ts';
import * as ctl from '../controller/controller.ts';
import type { Controller, ControllerEvent } from '../controller/controller.ts';
import { formatDpid, type Dpid } from '../controller/commands.ts';
import type { AgentDecide, AgentDecideResult, ControllerService, Cost, Host, Hypervisor, MigrationRecord, NorthEvent, VmTraffic } from '../api/contract.ts';
import { ScoreError } from '../errors/errors.ts';
import { layerWeights } from '../core/layers.ts';
import { settlingTracker } from './cost-settling.ts';
import type { Runtime } from '../runtime/controller-runtime.ts';
import type { Clock } from '../runtime/clock.ts';
import { createOrchestrator, type Orchestrator, type Snapshot } from '../orchestrator/orchestrator.ts';
import { quantizeRates } from './traffic.ts';
import { layerUtilisation } from '../sim/fluid.ts';
import type { AuditLog } from './audit-file.ts';
import { continuousConfig, type NetworkSignals } from '../orchestrator/continuous.ts';

/**
 * The northbound service: what the HTTP API serves, over the running controller. VMs are named
 * from the scenario when there is one (else by MAC); hypervisors by their switch names. Measured
 * rates go through the same tolerance-based quantisation for the agents and the orchestrator, so
 * both see equal flows as equal.
 */

/** Outstanding refused paths remembered for continuous mode's hold-off, oldest dropped first. */
export const MAX_PATHS_REJECTED_KEPT = 1024;

/**
 * Notes a refused path (`id` "vmA->vmB", `at` ms) unless already outstanding since earlier. A pair
 * that never gets its path back (host gone, pair idle) would otherwise stay forever: beyond `max`
 * the oldest go (the hold-off looks at the last few periods only, src/orchestrator/continuous.ts).
 */
export function rememberRejected(outstanding: Map<string, number>, id: string, at: number, max = MAX_PATHS_REJECTED_KEPT): void {
  if (outstanding.has(id)) return;
  outstanding.set(id, at);
  for (const old of outstanding.keys()) {
    if (outstanding.size <= max) break;
    outstanding.delete(old);
  }
}
export interface ServiceOptions {
  readonly runtime: Runtime;
  readonly clock: Clock;
  /** MAC -> VM name */
  readonly vmNames?: ReadonlyMap<string, string>;
  /** hypervisor name -> VMs it may host */
  readonly capacities?: ReadonlyMap<string, number>;
  readonly defaultCapacity?: number;
  /** relative tolerance under which measured rates count as equal (default 0.05) */
  readonly rateTolerance?: number;
  /** calls an agent's /agent/v1/decide; `hypervisor` is whose agent it is (its call token depends on it) */
  readonly callAgent: (url: string, body: AgentDecide, hypervisor: string) => Promise<AgentDecideResult>;
  readonly settleMs?: number;
  readonly confirmMs?: number;
  readonly historyLimit?: number;
  readonly onSettled?: (migrations: number) => void;
  /** persists the orchestrator's audit log (and restores it after a restart) */
  readonly audit?: AuditLog;
  /** prefix of new migration record ids (cluster mode: the leader's generation) */
  readonly idPrefix?: () => string;
}

export interface Service extends ControllerService {
  readonly orchestrator: Orchestrator;
  /** feed controller events (wire to the runtime's onEvent) */
  onControllerEvent(e: ControllerEvent): void;
  /** take a cost/utilisation sample (wire to the runtime's onPoll) */
  sample(): void;
  snapshot(): Snapshot;
  hypervisorOf(vm: string): string | undefined;
  /** forgets a hypervisor's agent URL (its credential was revoked); true if one was registered */
  unregisterAgent(hypervisor: string): boolean;
  /** filled by a cluster leader's reconciliation (cluster/orchestration.ts) */
  readonly reconciled: Set<string>;
}

export function createService(o: ServiceOptions): Service {
  const c = (): Controller => o.runtime.controller;
  const tolerance = o.rateTolerance ?? 0.05;
  const listeners = new Set<(e: NorthEvent) => void>();
  const agents = new Map<string, string>();
  const history: Cost[] = [];
  const limit = o.historyLimit ?? 3600;
  const settle = settlingTracker(o.settleMs ?? 3000);

  const emit = (e: NorthEvent): void => {
    settle.onEvent(e);
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // a broken subscriber must not stop the others
      }
    }
  };
  const vmName = (mac: string): string => o.vmNames?.get(mac) ?? mac;
  const macOf = (vm: string): string => {
    for (const [mac, e] of c().hosts.byMac) if (vmName(mac) === vm || mac === vm) return e.mac;
    throw new ScoreError('UNKNOWN_VM', `no VM "${vm}" is known to the controller`, { vm });
  };
  /** the MAC of a VM of the scenario (or registered), whether or not the controller holds it now */
  const knownMac = (vm: string): string | undefined => {
    for (const [mac, name] of o.vmNames ?? []) if (name === vm || mac === vm) return mac;
    return undefined;
  };
  const hvName = (d: Dpid): string => c().view.nameOf(d);
  const hypervisorOf = (vm: string): string | undefined => {
    try {
      const e = c().hosts.byMac.get(macOf(vm));
      return e ? hvName(e.at.dpid) : undefined;
    } catch {
      return undefined;
    }
  };
  const requireHypervisor = (name: string): Dpid => {
    const d = c().view.dpidOf.get(name);
    if (d === undefined || !c().view.hypervisors.has(d)) throw new ScoreError('UNKNOWN_HYPERVISOR', `no hypervisor "${name}" among the switches connected now (a hypervisor is known once its virtual switch connected)`, { hypervisor: name });
    return d;
  };

  /** Measured directed flows between VMs, by name, in bytes/s (zero rates dropped). */
  const measuredFlows = () =>
    ctl
      .pairRates(c(), o.clock.now())
      .filter((r) => r.bytesPerSecond > 0)
      .map((r) => ({ src: vmName(r.src), dst: vmName(r.dst), rate: r.bytesPerSecond, ageMs: r.ageMs }));

  /**
   * The snapshot with the measurement it was made from: `raw` as measured, `flows` grouped
   * (quantizeRates, same order), so a caller that also needs them measures once.
   */
  const measuredSnapshot = (): { snapshot: Snapshot; raw: ReturnType<typeof measuredFlows>; flows: ReturnType<typeof quantizeRates> } => {
    const hosts = [...c().hosts.byMac.values()].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
    const vms = hosts.map((h) => vmName(h.mac));
    const placement = new Map(hosts.map((h) => [vmName(h.mac), hvName(h.at.dpid)]));
    const raw = measuredFlows();
    const flows = quantizeRates(raw, tolerance);
    const snapshot: Snapshot = {
      vms,
      placement,
      traffic: trafficMatrix(flows),
      oracle: c().view.oracle,
      rank: new Map(vms.map((v, i) => [v, i])),
      rates: raw.map((f) => ({ src: f.src, dst: f.dst, bytesPerSecond: f.rate })),
      weights: Object.fromEntries(c().view.weights),
      capacity: new Map([...c().view.hypervisors].map((d) => { const name = hvName(d); return [name, o.capacities?.get(name) ?? o.defaultCapacity ?? 5]; })),
    };
    return { snapshot, raw, flows };
  };
  const snapshot = (): Snapshot => measuredSnapshot().snapshot;

  const layersNow = (): Cost['layers'] =>
    layerUtilisation(ctl.linkUtilisation(c()), c().view.layers.maxLayer).map((l) => ({ layer: l.layer, activeLinks: l.activeLinks, meanUtilisation: l.meanUtilisation }));

  /**
   * snapshot()'s placement (VM name -> hypervisor name), for the named VMs only: where two hosts
   * share a VM name, the one with the greatest MAC, as in snapshot's MAC-sorted map. One pass over
   * the hosts, none when no VM is named: sorting every host each second (the cost sample) held
   * the event loop for milliseconds, and for longer the more hosts were known.
   */
  const placementOf = (names: ReadonlySet<string>): Map<string, string> => {
    const out = new Map<string, string>();
    if (names.size === 0) return out;
    const macs = new Map<string, string>();
    for (const h of c().hosts.byMac.values()) {
      const vm = vmName(h.mac);
      if (!names.has(vm)) continue;
      const seen = macs.get(vm);
      if (seen !== undefined && seen > h.mac) continue;
      macs.set(vm, h.mac);
      out.set(vm, hvName(h.at.dpid));
    }
    return out;
  };

  /** The cost now, from the measured flows: totalCost only reads the placement of their VMs. */
  const costNow = (): Cost => {
    const flows = measuredFlows();
    const names = new Set<string>();
    for (const f of flows) {
      names.add(f.src);
      names.add(f.dst);
    }
    return { at: o.clock.now(), cost: totalCost(placementOf(names), trafficMatrix(flows), c().view.oracle), layers: layersNow() };
  };

  // What continuous mode's hold-off needs: the last topology change, and what is down now.
  const net = { lastChangeAt: null as number | null, lastChange: null as string | null, switchesDown: new Map<string, number>(), linksDown: new Map<string, number>(), pathsRejected: new Map<string, number>() };
  const network = (): NetworkSignals => ({
    lastChangeAt: net.lastChangeAt,
    lastChange: net.lastChange,
    switchesDown: [...net.switchesDown].map(([name, since]) => ({ name, since })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    linksDown: [...net.linksDown].map(([id, since]) => ({ id, since })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    inFlight: [],
    pathsRejected: [...net.pathsRejected].map(([id, since]) => ({ id, since })).sort((a, b) => (a.id < b.id ? -1 : 1)),
  });
  // per event, closures cost: each named one is also named at run time (tsx's keepNames)
  const end = (p: { dpid: Dpid; port: number }): string => `${hvName(p.dpid)}:${p.port}`;
  const portOf = (p: { dpid: Dpid; port: number }): { switch: string; port: number } => ({ switch: hvName(p.dpid), port: p.port });
  const noteNetwork = (e: ControllerEvent, at: number): void => {
    // a refused path is outstanding until the controller installs it (its retry), not a topology change
    if (e.type === 'path-rejected' || e.type === 'path-installed') {
      const id = `${vmName(e.src)}->${vmName(e.dst)}`;
      if (e.type === 'path-installed') net.pathsRejected.delete(id);
      else rememberRejected(net.pathsRejected, id, at);
      return;
    }
    if (e.type === 'link-added' || e.type === 'link-removed') {
      const ends = [end(e.link.a), end(e.link.b)].sort();
      const id = `${ends[0]!}-${ends[1]!}`;
      if (e.type === 'link-added') net.linksDown.delete(id);
      else net.linksDown.set(id, at);
      net.lastChange = `${e.type} ${id}`;
    } else if (e.type === 'switch-up' || e.type === 'switch-down') {
      if (e.type === 'switch-up') net.switchesDown.delete(hvName(e.dpid));
      else net.switchesDown.set(hvName(e.dpid), at);
      net.lastChange = `${e.type} ${hvName(e.dpid)}`;
    } else return;
    net.lastChangeAt = at;
  };

  /** the port each VM was on when it was last asked to migrate (restore's way back) */
  const askedAt = new Map<string, { dpid: Dpid; port: number }>();
  const hostAt = (vm: string): { dpid: Dpid; port: number } | undefined => {
    try {
      return c().hosts.byMac.get(macOf(vm))?.at;
    } catch {
      return undefined;
    }
  };
  const orchestrator = createOrchestrator({
    clock: o.clock,
    network,
    snapshot,
    hypervisorOf,
    emit,
    ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
    ...(o.confirmMs !== undefined ? { confirmMs: o.confirmMs } : {}),
    ...(o.idPrefix !== undefined ? { idPrefix: o.idPrefix } : {}),
    // The network has settled by the orchestrator's clock: record the settled cost now, before
    // the next migration starts (cost-settling.ts).
    onSettled: (k: number) => {
      settle.settled();
      service.sample();
      o.onSettled?.(k);
    },
    ...(o.audit !== undefined ? { history: o.audit.load(), onRecord: (r: MigrationRecord) => o.audit!.append(r) } : {}),
    decide(hypervisor, body) {
      const url = agents.get(hypervisor);
      if (url === undefined) throw new ScoreError('NO_AGENT', `no agent is registered for hypervisor ${hypervisor}`, { hypervisor });
      // where a VM asked to migrate is plugged now: the place restore() puts it back at
      if (body.migrate) {
        const at = hostAt(body.vm);
        if (at !== undefined) askedAt.set(body.vm, at);
      }
      return o.callAgent(url, body, hypervisor);
    },
    restore(vm, from) {
      const at = askedAt.get(vm);
      // a failed migration's VM runs on at the port it had on its source (the drivers resume it there)
      if (at === undefined || hvName(at.dpid) !== from) return;
      o.runtime.apply(ctl.vmMoved(c(), macOf(vm), at, o.clock.now()));
    },
  });

  const hostDto = (mac: string): Host => {
    const e = c().hosts.byMac.get(mac)!;
    return { vm: vmName(mac), mac, ip: e.ip ?? null, hypervisor: hvName(e.at.dpid), port: e.at.port };
  };

  const hypervisorDto = (d: Dpid): Hypervisor => {
    const name = hvName(d);
    return {
      name,
      dpid: formatDpid(d),
      capacity: o.capacities?.get(name) ?? o.defaultCapacity ?? 5,
      vms: [...c().hosts.byMac.values()].filter((h) => h.at.dpid === d).map((h) => vmName(h.mac)).sort(),
      agent: agents.get(name) ?? null,
    };
  };

  const weightsDto = () => ({
    // Every layer's effective weight, not only the overridden ones.
    layers: Object.fromEntries([...layerWeights(c().view.layers, c().options.weights)].map(([k, v]) => [String(k), v])),
    links: Object.fromEntries(c().view.weights),
  });

  const service: Service = {
    orchestrator,
    snapshot,
    hypervisorOf,
    onControllerEvent(e) {
      const at = o.clock.now();
      noteNetwork(e, at);
      if (e.type === 'link-added' || e.type === 'link-removed') emit({ type: e.type, at, data: { a: portOf(e.link.a), b: portOf(e.link.b), ...(e.type === 'link-removed' ? { reason: e.reason } : {}) } });
      else if (e.type === 'host-added') emit({ type: 'host-added', at, data: { vm: vmName(e.mac), mac: e.mac, hypervisor: hvName(e.at.dpid), port: e.at.port } });
      else if (e.type === 'host-moved') emit({ type: 'vm-moved', at, data: { vm: vmName(e.mac), mac: e.mac, from: hvName(e.from.dpid), to: hvName(e.to.dpid), via: e.via } });
    },
    sample() {
      // While a migration settles the sample holds the last settled value (cost-settling.ts).
      const s = settle.sample(costNow(), measuredFlows().map((f) => `${f.src}>${f.dst}`));
      history.push(s);
      if (history.length > limit) history.splice(0, history.length - limit);
      emit({ type: 'cost', at: s.at, data: { cost: s.cost, layers: s.layers, ...(s.settling === true ? { settling: true, measuredCost: s.measuredCost } : {}) } });
    },
    topology() {
      const view = c().view;
      const util = new Map(ctl.linkUtilisation(c()).map((u) => [u.link, u]));
      return {
        switches: [...c().disc.switches.keys()].map((d) => ({
          name: hvName(d),
          dpid: formatDpid(d),
          kind: view.hypervisors.has(d) ? ('hypervisor' as const) : ('switch' as const),
          layer: view.layers.nodeLayer.get(hvName(d)) ?? null,
        })),
        links: [...view.ports].map(([id, ends]) => {
          const u = util.get(id);
          return {
            id,
            a: { switch: hvName(ends.a.dpid), port: ends.a.port },
            b: { switch: hvName(ends.b.dpid), port: ends.b.port },
            layer: view.layers.linkLayer.get(id) ?? 0,
            weight: view.weights.get(id) ?? 0,
            capacityBps: view.topology.linkById.get(id)?.capacityBps ?? 0,
            abBps: u?.abBps ?? 0,
            baBps: u?.baBps ?? 0,
            utilisation: u?.utilisation ?? 0,
          };
        }),
      };
    },
    hosts: () => [...c().hosts.byMac.keys()].sort().map(hostDto),
    hypervisors: () => [...c().view.hypervisors].map(hypervisorDto).sort((a, b) => (a.name < b.name ? -1 : 1)),
    vmTraffic(vm): VmTraffic {
      const mac = macOf(vm);
      const me = c().hosts.byMac.get(mac)!;
      const { snapshot: s, raw, flows: quantized } = measuredSnapshot();
      const name = vmName(mac);
      const out = new Map<string, { out: number; in: number; age: number }>();
      quantized.forEach((f, i) => {
        const age = raw[i]!.ageMs;
        const peer = f.src === name ? f.dst : f.dst === name ? f.src : null;
        if (peer === null) return;
        const cur = out.get(peer) ?? { out: 0, in: 0, age: 0 };
        out.set(peer, { out: cur.out + (f.src === name ? f.rate : 0), in: cur.in + (f.dst === name ? f.rate : 0), age: Math.max(cur.age, age) });
      });
      const here = hvName(me.at.dpid);
      const peers = [...out].map(([peer, r]) => {
        const hv = s.placement.get(peer) ?? '?';
        let pathCost = 0;
        try {
          pathCost = s.oracle.cost(here, hv);
        } catch {
          pathCost = 0;
        }
        return { vm: peer, mac: macOf(peer), hypervisor: hv, outBytesPerSecond: r.out, inBytesPerSecond: r.in, lambda: r.out + r.in, pathCost, ageMs: r.age };
      });
      return { vm: name, mac, hypervisor: here, cost: vmCost(name, s.placement, s.traffic, s.oracle), peers };
    },
    weights: weightsDto,
    setLinkWeight(link, weight) {
      if (!c().view.weights.has(link)) throw new ScoreError('UNKNOWN_LINK', `no link "${link}"`, { link });
      const w = c().options.weights ?? {};
      o.runtime.apply(ctl.setWeights(c(), { ...w, links: { ...(w.links ?? {}), [link]: weight } }));
      emit({ type: 'weight-changed', at: o.clock.now(), data: { link, weight } });
      return weightsDto();
    },
    setLayerWeight(layer, weight) {
      if (!Number.isInteger(layer) || layer < 1 || layer > Math.max(1, c().view.layers.maxLayer)) {
        throw new ScoreError('UNKNOWN_LINK', `no link layer ${layer} (layers 1..${c().view.layers.maxLayer})`, { layer });
      }
      const w = c().options.weights ?? {};
      o.runtime.apply(ctl.setWeights(c(), { ...w, layers: { ...(w.layers ?? {}), [layer]: weight } }));
      emit({ type: 'weight-changed', at: o.clock.now(), data: { layer, weight } });
      return weightsDto();
    },
    pathCost(from, to) {
      requireHypervisor(from);
      requireHypervisor(to);
      const view = c().view;
      return { from, to, cost: view.oracle.cost(from, to), links: view.oracle.path(from, to).map((l) => l.id) };
    },
    costMatrix() {
      const hvs = [...c().view.hypervisors].map(hvName).sort();
      const o2 = c().view.oracle;
      return { hypervisors: hvs, cost: hvs.map((a) => hvs.map((b) => { try { return o2.cost(a, b); } catch { return -1; } })) };
    },
    cost: costNow,
    costHistory: () => [...history],
    migrations: () => orchestrator.records.map((r) => ({ ...r })),
    reconciled: new Set<string>(),
    orchestration: () => orchestrator.status(),
    startOrchestration(body) {
      const policy: PolicyName = body.policy === 'rr' || body.policy === 'round-robin' ? 'round-robin' : body.policy === 'gain-order' || body.policy === 'gain' ? 'gain-order' : 'load-aware';
      if (body.continuous !== undefined) {
        // continuous mode has its own hysteresis and budget; these one-shot options would be dropped silently
        const oneShot = (['swaps', 'overcommit', 'rails', 'plan', 'maxRounds', 'mode', 'lookahead'] as const).filter((k) => body[k] !== undefined);
        if (oneShot.length > 0) throw new ScoreError('CONTINUOUS_INVALID', `continuous mode does not take ${oneShot.join(', ')} (it re-plans with its own stable-rounds, no-return and per-period budget)`, { options: oneShot });
        const { everyMs, stableRounds, noReturnRounds, cooldownRounds, maxPerPeriod, quietMs, memoryBytes, dirtyRateBytesPerSec, bandwidthBytesPerSec, amortisationSeconds } = body.continuous;
        const precopy = Object.fromEntries(Object.entries({ memoryBytes, dirtyRateBytesPerSec, bandwidthBytesPerSec, amortisationSeconds }).filter(([, v]) => v !== undefined));
        // a fixed c_m replaces the pre-copy price: its parameters would be dropped silently
        if (body.migrationCost !== undefined && Object.keys(precopy).length > 0) {
          const given = Object.keys(precopy);
          throw new ScoreError('CONTINUOUS_INVALID', `continuous mode prices moves either with a fixed migrationCost or with the pre-copy model, not both: drop migrationCost or ${given.join(', ')}`, { options: ['migrationCost', ...given] });
        }
        const config = continuousConfig({
          everyMs,
          ...(stableRounds !== undefined ? { stableRounds } : {}),
          ...(noReturnRounds !== undefined ? { noReturnRounds } : {}),
          ...(cooldownRounds !== undefined ? { cooldownRounds } : {}),
          ...(maxPerPeriod !== undefined ? { maxPerPeriod } : {}),
          ...(quietMs !== undefined ? { quietMs } : {}),
          ...(body.migrationCost !== undefined ? { migrationCost: body.migrationCost } : {}),
          precopy,
        });
        return orchestrator.start({ policy, continuous: config });
      }
      if (body.lookahead === true) {
        // the planner decides for every VM at once: a policy's order, a dry run or rails per VM do not apply
        const other = (['plan', 'rails', 'mode', 'swaps'] as const).filter((k) => body[k] !== undefined);
        if (policy !== 'gain-order' || other.length > 0) {
          throw new ScoreError('API_BAD_REQUEST', `lookahead goes with the gain-order policy alone${other.length > 0 ? `, not with ${other.join(', ')}` : `, not ${policy}`}`, { policy, options: other });
        }
      }
      // a dry run asks each agent for a single move only: exchanges would be dropped silently from the plan
      if (body.plan === true && body.swaps === true) throw new ScoreError('API_BAD_REQUEST', 'plan does not go with swaps: a plan lists single moves only (exchanges are not planned); drop plan or swaps', { options: ['plan', 'swaps'] });
      // overcommit only bounds how an exchange is carried out: without exchanges it would be dropped silently
      if (body.overcommit !== undefined && body.swaps !== true && body.lookahead !== true) throw new ScoreError('API_BAD_REQUEST', 'overcommit goes with swaps: true or lookahead: true (it bounds how an exchange is carried out)', { options: ['overcommit'] });
      return orchestrator.start({ policy, ...(body.lookahead === true ? { lookahead: true } : {}), ...(body.mode ? { mode: body.mode } : {}), ...(body.plan !== undefined ? { plan: body.plan } : {}), ...(body.maxRounds ? { maxRounds: body.maxRounds } : {}), ...(body.migrationCost !== undefined ? { migrationCost: body.migrationCost } : {}), ...(body.rails !== undefined ? { rails: body.rails } : {}), ...(body.swaps !== undefined ? { swaps: body.swaps } : {}), ...(body.overcommit !== undefined ? { overcommit: body.overcommit } : {}) });
    },
    stopOrchestration: () => orchestrator.stop(),
    reviewPlan: (id, verdict) => orchestrator.review(id, verdict),
    registerAgent(hypervisor, url) {
      const d = requireHypervisor(hypervisor);
      agents.set(hypervisor, url.replace(/\/+$/, ''));
      return hypervisorDto(d);
    },
    unregisterAgent: (hypervisor) => agents.delete(hypervisor),
    migrationDone(vm, hypervisor, _migrationId, port) {
      // A VM of the scenario the controller does not hold now (its source port just went down
      // under a paused switch-over, or a new leader has not heard it yet) is placed by its known
      // MAC; only an agent's report with a port can place it. The permission check
      // (api/identity.ts checkMigrationDone) ran before, on the running migration record.
      const known = knownMac(vm);
      const mac = known !== undefined && port !== undefined && !c().hosts.byMac.has(known) ? known : macOf(vm);
      const d = requireHypervisor(hypervisor);
      // A link port would make the controller deliver the VM's traffic into the fabric.
      if (port !== undefined && !ctl.isHostPort(c(), { dpid: d, port })) {
        throw new ScoreError('NOT_A_HOST_PORT', `port ${port} of ${hypervisor} is a switch-to-switch link, not a VM's port`, { hypervisor, port });
      }
      if (port !== undefined) o.runtime.apply(ctl.vmMoved(c(), mac, { dpid: d, port }, o.clock.now()));
      return hostDto(mac);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return service;
}
