import type { Model } from '../scenario/model.ts';
import { scenarioDpids } from '../scenario/dpids.ts';
import type { Dpid, SwitchCommand } from './commands.ts';
import * as ctl from './controller.ts';
import type { Controller } from './controller.ts';
import type { Fabric, Walk } from '../dataplane/fabric.ts';
import { addSwitch, attachHost, connect, createFabric, execute, portInfos, sendFromHost } from '../dataplane/fabric.ts';

/**
 * A scenario's data centre as a fake fabric driven by a real controller: commands are executed,
 * packet-ins fed back, until the network is quiet. For tests of the controller's logic without
 * root; the emulated data centre is the same test against real Open vSwitch.
 */
export interface Harness {
  readonly fabric: Fabric;
  readonly controller: Controller;
  readonly dpidOf: Map<string, Dpid>;
  now: number;
}

export function harnessFromModel(model: Model, nonce = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])): Harness {
  const s = model.scenario;
  const dpidOf = scenarioDpids(s);
  const fabric = createFabric();
  for (const d of dpidOf.values()) addSwitch(fabric, d);
  for (const l of s.links) connect(fabric, dpidOf.get(l.a)!, dpidOf.get(l.b)!);
  for (const vm of s.vms) attachHost(fabric, model.vmInfo.get(vm.name)!.mac, dpidOf.get(vm.host)!);
  const controller = ctl.createController({
    nonce,
    names: new Map([...dpidOf].map(([n, d]) => [d, n])),
    hypervisors: new Set(s.hypervisors.map((h) => dpidOf.get(h.id)!)),
  });
  return { fabric, controller, dpidOf, now: 0 };
}

/** Runs commands to quiescence; returns everything delivered to hosts along the way. */
export function pump(h: Harness, commands: readonly SwitchCommand[], first?: Walk): Walk {
  const total: Walk = { delivered: [...(first?.delivered ?? [])], packetIns: [], loops: first?.loops ?? 0, drops: first?.drops ?? 0 };
  let pendingIns = [...(first?.packetIns ?? [])];
  let pending = [...commands];
  for (let guard = 0; guard < 10_000 && (pending.length > 0 || pendingIns.length > 0); guard++) {
    const w = execute(h.fabric, pending, h.now);
    pending = [];
    total.delivered.push(...w.delivered);
    total.loops += w.loops;
    total.drops += w.drops;
    pendingIns.push(...w.packetIns);
    const ins = pendingIns;
    pendingIns = [];
    for (const pi of ins) {
      total.packetIns.push(pi);
      pending.push(...ctl.packetIn(h.controller, pi.dpid, pi.inPort, pi.frame, h.now).commands);
    }
  }
  return total;
}

export function connectAll(h: Harness): void {
  for (const sw of h.fabric.switches.values()) pump(h, ctl.switchUp(h.controller, sw.dpid, portInfos(sw), h.now).commands);
}

export function hostSends(h: Harness, mac: string, frame: Uint8Array): Walk {
  return pump(h, [], sendFromHost(h.fabric, mac, frame, h.now));
}
