/**
 * `score emulate --vms qemu` (or the scenario's `emulation.vms: qemu`): the VMs with traffic
 * become QEMU guests that make the scenario's flows themselves; the others stay namespaces, since
 * a TCG guest costs ~100-200 MB and a CPU-bound boot (the paper's 24 VMs would need ~4 GB, its
 * 11 with traffic are what the experiment moves).
 */
import type { Model } from '../scenario/model.ts';
import { forEachLimit, type DataCentre } from '../emulation/datacentre.ts';
import { buildImage } from '../image/build.ts';
import { guestInsteadOfNamespace, guestSegments, readRecord, type FleetRun } from './fleet.ts';
import { sendSchedule } from './qemu.ts';
import { segmentIndexAt } from '../scenario/timeline.ts';
import { ScoreError } from '../errors/errors.ts';

export type VmKind = 'namespace' | 'qemu';

/** The VMs that become QEMU guests: those at either end of a flow at any time (phases, trace), in scenario order. Pure. */
export function guestVms(model: Model): string[] {
  const inFlows = new Set(model.timeline.segments.flatMap((s) => s.flows.flatMap((f) => [f.src, f.dst])));
  return model.scenario.vms.map((v) => v.name).filter((v) => inFlows.has(v));
}

/** What the run uses: the command line's choice, else the scenario's, else namespaces. Pure. */
export function vmKind(model: Model, cli: VmKind | undefined): VmKind {
  return cli ?? model.scenario.emulation?.vms ?? 'namespace';
}

/**
 * Builds the image (cached) and boots the guests, three at a time (TCG boots are CPU-bound).
 * They boot silent: startGuestTraffic gives them their flows and the common start.
 * Returns the guests' names. A failed boot rejects (VM_BOOT); the caller stops the run, which
 * stops every guest already booted.
 */
export async function startScenarioGuests(dc: DataCentre, model: Model, o: { memoryMiB?: number; out?: (s: string) => void } = {}): Promise<string[]> {
  const guests = guestVms(model);
  if (guests.length === 0) return [];
  const t0 = Date.now();
  const image = await buildImage();
  await forEachLimit(guests, 3, async (vm) => {
    await guestInsteadOfNamespace(dc, model, vm, { image, memoryMiB: o.memoryMiB ?? model.scenario.emulation?.guestMemoryMiB ?? 96, bootTimeoutMs: 180_000, flows: [] });
  });
  o.out?.(`${guests.length} QEMU guests (${guests.join(', ')}) booted in ${Date.now() - t0} ms; the other VMs stay namespaces`);
  return guests;
}

export interface GuestTrafficHandle {
  /** the host's common start, ms since the epoch: t = 0 of the scenario's timeline */
  readonly startedAt: number;
  /** index of the timeline segment that runs now, by the host's clock */
  segment(): number;
  /** stops the host's phase messages (the guests' flows end with the guests) */
  stop(): void;
}

/**
 * Starts the scenario's traffic in the guests: each gets its schedule (every segment of the
 * timeline, fleet.ts guestSegments) and the common start `startedAt` (default now) over its
 * control channel, and from then on switches flows by its own clock, wherever it runs (a guest's
 * clock migrates with it). `onSegment` reports each change as the host's clock sees it.
 * @throws ScoreError VM_BOOT when a guest does not take its schedule
 */
export async function startGuestTraffic(run: FleetRun, model: Model, guests: readonly string[], o: { startedAt?: number; onSegment?: (index: number, atMs: number) => void } = {}): Promise<GuestTrafficHandle> {
  const startedAt = o.startedAt ?? Date.now();
  await forEachLimit([...guests], 4, async (vm) => {
    const g = readRecord(run, vm);
    if (g === undefined) throw new ScoreError('UNKNOWN_VM', `no QEMU guest "${vm}" in run ${run.plan.prefix}`, { vm });
    await sendSchedule(g, guestSegments(model, vm), startedAt);
  });
  const segments = model.timeline.segments;
  const timers = segments.slice(1).map((seg, i) => setTimeout(() => o.onSegment?.(i + 1, Date.now() - startedAt), Math.max(0, startedAt + seg.startSec * 1000 - Date.now())));
  for (const t of timers) t.unref();
  return {
    startedAt,
    segment: () => segmentIndexAt(model.timeline, (Date.now() - startedAt) / 1000),
    stop: () => timers.forEach((t) => clearTimeout(t)),
  };
}
