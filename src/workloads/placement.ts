import type { Rng } from '../core/random.ts';
import { randomInt } from '../core/random.ts';
import { ScoreError } from '../errors/errors.ts';
import type { AppLayout } from './layout.ts';

/**
 * Initial placements. Each returns a fresh map VM -> hypervisor that never puts more VMs on a
 * hypervisor than its capacity (slots), or throws a ScoreError and returns nothing.
 */

function totalSlots(capacity: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const c of capacity.values()) s += Math.max(0, Math.floor(c));
  return s;
}

/**
 * Uniform over hypervisors with a free slot: each VM in turn picks one of the hypervisors that
 * still have room, all equally likely (so emptier hosts are not preferred, as in a scheduler
 * that ignores traffic). Locality is destroyed; this is what S-CORE has to recover.
 */
export function placeRandom(vms: readonly string[], capacity: ReadonlyMap<string, number>, rng: Rng): Map<string, string> {
  const slots = totalSlots(capacity);
  if (vms.length > slots) throw new ScoreError('CAPACITY_EXCEEDED', `${vms.length} VMs do not fit ${slots} slots`, { vms: vms.length, slots });
  const free: string[] = [];
  const room = new Map<string, number>();
  for (const [h, c] of capacity) {
    const n = Math.max(0, Math.floor(c));
    if (n > 0) {
      free.push(h);
      room.set(h, n);
    }
  }
  const placement = new Map<string, string>();
  for (const vm of vms) {
    const i = randomInt(rng, free.length);
    const h = free[i]!;
    placement.set(vm, h);
    const r = room.get(h)! - 1;
    room.set(h, r);
    if (r === 0) {
      free[i] = free[free.length - 1]!;
      free.pop();
    }
  }
  return placement;
}

/**
 * The application layout itself: the VMs of logical rack r go to the hypervisors of rack r,
 * dealt round-robin over the hypervisors that still have a free slot (in topology order), so a
 * rack's VMs share its hosts evenly. Traffic is then as local as the model made it, and hosts
 * keep free slots when the DC is not full (filling hosts to the brim instead would leave
 * S-CORE no target next to any peer: Algorithm 1 only moves a VM to a peer's host).
 */
export function placePacked(layout: AppLayout, capacity: ReadonlyMap<string, number>): Map<string, string> {
  const placement = new Map<string, string>();
  const { racks } = layout.structure;
  for (let r = 0; r < racks.length; r++) {
    const start = layout.rackStart[r]!;
    const end = layout.rackStart[r + 1]!;
    const hosts = racks[r]!.hypervisors.filter((h) => Math.floor(capacity.get(h) ?? 0) > 0);
    const room = hosts.map((h) => Math.floor(capacity.get(h)!));
    let vm = start;
    while (vm < end && hosts.length > 0) {
      for (let i = 0; i < hosts.length && vm < end; i++) {
        if (room[i]! > 0) {
          placement.set(layout.vms[vm++]!, hosts[i]!);
          room[i]! -= 1;
        }
      }
      if (room.every((x) => x === 0)) break;
    }
    if (vm < end) {
      throw new ScoreError('CAPACITY_EXCEEDED', `rack ${racks[r]!.id} cannot hold its ${end - start} VMs`, { rack: racks[r]!.id });
    }
  }
  return placement;
}

export interface PlacementRow {
  readonly vm: string;
  readonly hypervisor: string;
  /** 1-based line in the file, for messages */
  readonly line: number;
}

/**
 * A placement read from a file (see readPlacementCsv): every VM of the workload must be placed
 * exactly once, on a known hypervisor, within capacity. The first problem found is reported
 * with the file and line; nothing is returned in part.
 */
export function placeFromFile(
  vms: readonly string[],
  rows: readonly PlacementRow[],
  capacity: ReadonlyMap<string, number>,
  fileName: string,
): Map<string, string> {
  const known = new Set(vms);
  const placement = new Map<string, string>();
  const load = new Map<string, number>();
  const where = (line: number): string => `${fileName}:${line}`;
  for (const row of rows) {
    if (!known.has(row.vm)) {
      throw new ScoreError('UNKNOWN_VM', `${where(row.line)}: VM "${row.vm}" is not in the workload; expected one of its ${vms.length} VMs`, { file: fileName, line: row.line, vm: row.vm });
    }
    if (!capacity.has(row.hypervisor)) {
      throw new ScoreError('UNKNOWN_HYPERVISOR', `${where(row.line)}: hypervisor "${row.hypervisor}" is not in the topology`, { file: fileName, line: row.line, hypervisor: row.hypervisor });
    }
    if (placement.has(row.vm)) {
      throw new ScoreError('WORKLOAD_INVALID', `${where(row.line)}: VM "${row.vm}" is placed a second time; expected one line per VM`, { file: fileName, line: row.line, vm: row.vm });
    }
    const n = (load.get(row.hypervisor) ?? 0) + 1;
    const cap = Math.max(0, Math.floor(capacity.get(row.hypervisor)!));
    if (n > cap) {
      throw new ScoreError('CAPACITY_EXCEEDED', `${where(row.line)}: hypervisor "${row.hypervisor}" would host ${n} VMs; its capacity is ${cap}`, { file: fileName, line: row.line, hypervisor: row.hypervisor, capacity: cap });
    }
    load.set(row.hypervisor, n);
    placement.set(row.vm, row.hypervisor);
  }
  const missing = vms.filter((vm) => !placement.has(vm));
  if (missing.length > 0) {
    throw new ScoreError('WORKLOAD_INVALID', `${fileName}: ${missing.length} VM(s) have no placement, e.g. "${missing[0]}"; expected a line for every VM`, { file: fileName, missing: missing.slice(0, 10) });
  }
  return placement;
}
