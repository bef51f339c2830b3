/**
 * `score emulate --vms qemu` (or the scenario's `emulation.vms: qemu`): the VMs with traffic
 * become QEMU guests that make the scenario's flows themselves; the others stay namespaces, since
 * a TCG guest costs ~100-200 MB and a CPU-bound boot (the paper's 24 VMs would need ~4 GB, its
 * 11 with traffic are what the experiment moves).
 */
import type { Model } from '../scenario/model.ts';
import { forEachLimit, type DataCentre } from '../emulation/datacentre.ts';
import { buildImage } from '../image/build.ts';
import { guestInsteadOfNamespace } from './fleet.ts';

export type VmKind = 'namespace' | 'qemu';

/** The VMs that become QEMU guests: those at either end of a flow, in scenario order. Pure. */
export function guestVms(model: Model): string[] {
  const inFlows = new Set(model.scenario.traffic.flatMap((t) => [t.src, t.dst]));
  return model.scenario.vms.map((v) => v.name).filter((v) => inFlows.has(v));
}

/** What the run uses: the command line's choice, else the scenario's, else namespaces. Pure. */
export function vmKind(model: Model, cli: VmKind | undefined): VmKind {
  return cli ?? model.scenario.emulation?.vms ?? 'namespace';
}

/**
 * Builds the image (cached) and boots the guests, three at a time (TCG boots are CPU-bound).
 * Returns the guests' names. A failed boot rejects (VM_BOOT); the caller stops the run, which
 * stops every guest already booted.
 */
export async function startScenarioGuests(dc: DataCentre, model: Model, o: { memoryMiB?: number; out?: (s: string) => void } = {}): Promise<string[]> {
  const guests = guestVms(model);
  if (guests.length === 0) return [];
  const t0 = Date.now();
  const image = await buildImage();
  await forEachLimit(guests, 3, async (vm) => {
    await guestInsteadOfNamespace(dc, model, vm, { image, memoryMiB: o.memoryMiB ?? model.scenario.emulation?.guestMemoryMiB ?? 96, bootTimeoutMs: 180_000 });
  });
  o.out?.(`${guests.length} QEMU guests (${guests.join(', ')}) booted in ${Date.now() - t0} ms; the other VMs stay namespaces`);
  return guests;
}
