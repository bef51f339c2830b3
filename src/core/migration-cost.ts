import type { PathOracle } from './paths.ts';
import type { TopoLink } from './topology.ts';

/**
 * The cost of a live migration from the iterative pre-copy model (Clark et al., NSDI 2005):
 * round 1 sends all of memory while the VM runs; each later round sends the pages dirtied during
 * the previous one; when what is left is at most the stop-copy threshold, or after the last
 * allowed round, the VM is paused and the rest is sent (the downtime).
 *
 * Simplifications, stated so the numbers can be judged: pages are dirtied at a constant rate and
 * uniformly (no writable-working-set skew), at most all of memory can be dirty, the bandwidth is
 * constant, and resume and ARP time are not counted. A memory no larger than the threshold is
 * sent in one stop-and-copy with no pre-copy round.
 */
export interface PreCopyInput {
  readonly memoryBytes: number;
  readonly dirtyRateBytesPerSec: number;
  readonly bandwidthBytesPerSec: number;
  /** pre-copy rounds at most, the first (full) copy included */
  readonly maxRounds: number;
  /** stop and copy once at most this many dirty bytes are left */
  readonly stopCopyBytes: number;
  /**
   * the writable working set: the pages the guest keeps rewriting (Clark et al.'s WWS); a round
   * leaves at most this much dirty, since a page rewritten twice is sent once. Default: all of
   * memory (the uniform model). Measured against QEMU in docs/vms.md.
   */
  readonly writableWorkingSetBytes?: number;
}

export interface PreCopyResult {
  /** every byte sent: pre-copy rounds plus the stop-copy */
  readonly bytesMoved: number;
  /** pre-copy rounds made */
  readonly rounds: number;
  /** dirty bytes sent while the VM was paused */
  readonly stopCopyBytes: number;
  /** from the first byte to the VM running on the target */
  readonly migrationSeconds: number;
  readonly downtimeSeconds: number;
  /** false when pre-copy ended at maxRounds with more than the threshold still dirty */
  readonly converged: boolean;
}

export function preCopy(input: PreCopyInput): PreCopyResult {
  const { memoryBytes: m, dirtyRateBytesPerSec: d, bandwidthBytesPerSec: b, maxRounds, stopCopyBytes: threshold } = input;
  if (!(m >= 0) || !(d >= 0) || !(b > 0) || !(maxRounds >= 1) || !(threshold >= 0) || !((input.writableWorkingSetBytes ?? 0) >= 0)) {
    throw new RangeError('pre-copy needs memory ≥ 0, dirty rate ≥ 0, bandwidth > 0, maxRounds ≥ 1, threshold ≥ 0');
  }
  let toSend = m;
  let sent = 0;
  let rounds = 0;
  if (m > threshold) {
    while (rounds < maxRounds) {
      rounds += 1;
      sent += toSend;
      toSend = Math.min(input.writableWorkingSetBytes ?? m, m, (d * toSend) / b);
      if (toSend <= threshold) break;
    }
  }
  const converged = toSend <= threshold;
  const total = sent + toSend;
  return { bytesMoved: total, rounds, stopCopyBytes: toSend, migrationSeconds: total / b, downtimeSeconds: toSend / b, converged };
}

/**
 * The stop-copy threshold fitted to QEMU 7.2 (docs/vms.md, "The pre-copy model meets QEMU").
 * QEMU pauses the guest once a dirty-bitmap sync leaves less than `bandwidth × downtime-limit`
 * (300 ms by default) to send, but then sends that rest without its bandwidth cap
 * (migration_completion lifts the rate limit; its per-sync `remaining` stayed under 5.2 MB at
 * 17 MB/s), so the guest is paused for what the rest takes at full speed, not at `bandwidth`.
 * `preCopy` has one bandwidth for every round: a threshold of what it sends in 6 ms reproduces
 * the measured downtimes (2-34 ms over three runs, at every load that converged), and moves the
 * bytes by under 1% against the `bandwidth × limit` reading. Measured with
 * `npm run bench -- precopy-model` (bench/precopy-model.bench.ts; figures in docs/vms.md).
 *
 * It is the default wherever the model prices a migration: `DEFAULT_MIGRATION_MODEL` (scale
 * simulator, src/sim/scale.ts) and continuous mode's `DEFAULT_PRECOPY_PRICING`
 * (src/orchestrator/continuous.ts), each at its 1 Gb/s (125 MB/s): 0.75 MB.
 */
export const QEMU_STOP_COPY_SECONDS = 0.006;

/** stopCopyBytes for `preCopy` as QEMU behaves: bandwidth × QEMU_STOP_COPY_SECONDS. Pure. */
export function qemuStopCopyBytes(bandwidthBytesPerSec: number): number {
  if (!(bandwidthBytesPerSec > 0)) throw new RangeError('bandwidth must be positive');
  return bandwidthBytesPerSec * QEMU_STOP_COPY_SECONDS;
}

/**
 * Bytes moved, in Eq. 3's units. C_A is bytes/s × path weight, a rate; a migration is a one-off
 * transfer, so it is spread over the horizon the saving is counted for: moving B bytes over a path
 * of weight w costs B·w / T. With T = 60 s a move must save, every second for a minute, at least
 * what the migration puts on the network once. Longer horizons make migrations look cheaper.
 */
export function migrationCostUnits(bytesMoved: number, pathCost: number, amortisationSeconds: number): number {
  if (!(amortisationSeconds > 0)) throw new RangeError('amortisationSeconds must be positive');
  return (bytesMoved * pathCost) / amortisationSeconds;
}

/** c_m for one candidate move, as `decide` and the planners take it besides a plain number. */
export type MigrationCostFn = (vm: string, from: string, to: string) => number;

export interface PreCopyCostOptions {
  readonly oracle: PathOracle;
  /** per VM; a VM not listed uses `defaults` */
  readonly vms?: ReadonlyMap<string, { readonly memoryBytes: number; readonly dirtyRateBytesPerSec: number }>;
  readonly defaults: { readonly memoryBytes: number; readonly dirtyRateBytesPerSec: number };
  /** bandwidth left for the migration between two hypervisors (a number: the same everywhere) */
  readonly bandwidthBytesPerSec: number | ((from: string, to: string) => number);
  readonly maxRounds: number;
  readonly stopCopyBytes: number;
  readonly amortisationSeconds: number;
}

/** c_m(u, from, to) = preCopy(u).bytesMoved × pathCost(from, to) / amortisationSeconds. */
export function preCopyMigrationCost(o: PreCopyCostOptions): MigrationCostFn {
  return (vm, from, to) => {
    const v = o.vms?.get(vm) ?? o.defaults;
    const bw = typeof o.bandwidthBytesPerSec === 'number' ? o.bandwidthBytesPerSec : o.bandwidthBytesPerSec(from, to);
    const r = preCopy({ memoryBytes: v.memoryBytes, dirtyRateBytesPerSec: v.dirtyRateBytesPerSec, bandwidthBytesPerSec: bw, maxRounds: o.maxRounds, stopCopyBytes: o.stopCopyBytes });
    return migrationCostUnits(r.bytesMoved, o.oracle.cost(from, to), o.amortisationSeconds);
  };
}

/**
 * The extra load a migration puts on each link it crosses, in bytes/s, for a simulator that
 * spreads `bytes` evenly over `seconds` (its migration time). Loads add up if a path repeats a link.
 */
export function migrationTraffic(path: readonly TopoLink[], bytes: number, seconds: number): Map<string, number> {
  if (!(seconds > 0)) throw new RangeError('seconds must be positive');
  const rate = bytes / seconds;
  const out = new Map<string, number>();
  for (const l of path) out.set(l.id, (out.get(l.id) ?? 0) + rate);
  return out;
}
