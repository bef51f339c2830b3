import type { DirectedFlow } from '../core/cost.ts';
import { ScoreError } from '../errors/errors.ts';
import { parseBandwidth } from './bandwidth.ts';

/**
 * Traffic as a function of time: the one description every data plane follows (the fluid
 * model, the simulated data plane, the emulated generators). Pure: no clock; the caller passes t.
 *
 * A timeline is a list of segments, each the complete set of directed flows that run from its
 * start until the next segment's start (the last one runs for ever). Segment 0 starts at t = 0
 * and is the scenario's `traffic`. Scenario `phases` and trace CSV lines both compile to it.
 */
export interface TimelineSegment {
  /** seconds from the start of the experiment */
  readonly startSec: number;
  /** every flow running in this segment, rates in bytes/s (> 0), sorted by src then dst */
  readonly flows: readonly DirectedFlow[];
}

export interface Timeline {
  /** sorted by startSec, strictly increasing, the first at 0 */
  readonly segments: readonly TimelineSegment[];
}

/** A change to the traffic at one time: replace the whole matrix, or set / stop some flows. */
export interface TrafficChange {
  readonly atSec: number;
  /** the new complete matrix (replaces everything) */
  readonly replace?: readonly DirectedFlow[];
  /** flows that start or change rate (rate 0 stops the flow) */
  readonly set?: readonly DirectedFlow[];
  /** flows that stop */
  readonly stop?: readonly { readonly src: string; readonly dst: string }[];
  /** from a trace file: the 1-based line of each `set` entry, for messages that name file:line */
  readonly lines?: readonly number[];
}

const key = (src: string, dst: string): string => `${src}\u0000${dst}`;

function sorted(m: ReadonlyMap<string, DirectedFlow>): DirectedFlow[] {
  return [...m.values()].filter((f) => f.rate > 0).sort((a, b) => (a.src < b.src ? -1 : a.src > b.src ? 1 : a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
}

/**
 * Builds a timeline from the flows at t = 0 and changes. Changes at the same time apply in the
 * order given; a time earlier than the previous change's is an error (TIMELINE_INVALID).
 */
export function buildTimeline(initial: readonly DirectedFlow[], changes: readonly TrafficChange[]): Timeline {
  const current = new Map<string, DirectedFlow>();
  for (const f of initial) current.set(key(f.src, f.dst), { src: f.src, dst: f.dst, rate: (current.get(key(f.src, f.dst))?.rate ?? 0) + f.rate });
  const segments: TimelineSegment[] = [{ startSec: 0, flows: sorted(current) }];
  let last = 0;
  changes.forEach((c, i) => {
    if (!(c.atSec >= last) || !Number.isFinite(c.atSec)) {
      throw new ScoreError('TIMELINE_INVALID', `change ${i} at ${c.atSec} s comes before the previous one (${last} s); changes must be in time order, at t >= 0`, { index: i, atSec: c.atSec });
    }
    last = c.atSec;
    if (c.replace !== undefined) {
      current.clear();
      for (const f of c.replace) current.set(key(f.src, f.dst), { src: f.src, dst: f.dst, rate: (current.get(key(f.src, f.dst))?.rate ?? 0) + f.rate });
    }
    for (const s of c.stop ?? []) current.delete(key(s.src, s.dst));
    for (const f of c.set ?? []) current.set(key(f.src, f.dst), { src: f.src, dst: f.dst, rate: f.rate });
    const seg = { startSec: c.atSec, flows: sorted(current) };
    if (segments.at(-1)!.startSec === c.atSec) segments[segments.length - 1] = seg;
    else segments.push(seg);
  });
  return { segments };
}

/** A timeline that never changes. */
export function constantTimeline(flows: readonly DirectedFlow[]): Timeline {
  return buildTimeline(flows, []);
}

/** Index of the segment active at `tSec` (binary search; t < 0 reads as 0). */
export function segmentIndexAt(tl: Timeline, tSec: number): number {
  let lo = 0;
  let hi = tl.segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (tl.segments[mid]!.startSec <= tSec) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The flows running at `tSec` (bytes/s). */
export function flowsAt(tl: Timeline, tSec: number): readonly DirectedFlow[] {
  return tl.segments[segmentIndexAt(tl, tSec)]!.flows;
}

/** Times (s) at which the traffic changes, t = 0 excluded. */
export function changeTimes(tl: Timeline): number[] {
  return tl.segments.slice(1).map((s) => s.startSec);
}

/** Every VM that sends or receives in some segment. */
export function timelineVms(tl: Timeline): Set<string> {
  const out = new Set<string>();
  for (const s of tl.segments) for (const f of s.flows) out.add(f.src).add(f.dst);
  return out;
}

/**
 * Parses a traffic trace: CSV with header `time,src,dst,rate`. From `time` (seconds, ≥ 0,
 * non-decreasing) the flow src → dst runs at `rate` until a later line for the same pair; rate
 * 0 stops it. A plain rate is bytes/s; with a unit it is a bandwidth (`100kbps`, `12.5kB/s`).
 * Blank lines and `#` comments are skipped. Each change carries the line of each of its flows
 * (`lines`). Errors: TIMELINE_PARSE with file and 1-based line; two lines for one time and pair
 * (which would make the later win silently) name both.
 */
export function parseTrafficTrace(text: string, fileName: string): TrafficChange[] {
  const fail = (line: number, message: string): never => {
    throw new ScoreError('TIMELINE_PARSE', `${fileName}:${line}: ${message}`, { file: fileName, line });
  };
  const rows: { line: number; fields: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s !== '' && !s.startsWith('#')) rows.push({ line: i + 1, fields: s.split(',').map((f) => f.trim()) });
  });
  const header = rows.shift();
  if (header === undefined) fail(1, 'empty trace: expected the header "time,src,dst,rate"');
  if (header!.fields.join(',').toLowerCase() !== 'time,src,dst,rate') fail(header!.line, `expected the header "time,src,dst,rate", got "${header!.fields.join(',')}"`);
  const changes: { atSec: number; set: DirectedFlow[]; lines: number[] }[] = [];
  // time, src, dst -> line, for the lines of the current time only (lines are in time order)
  const seen = new Map<string, number>();
  let last = -Infinity;
  for (const r of rows) {
    if (r.fields.length !== 4 || r.fields.some((f) => f === '')) fail(r.line, `expected 4 non-empty fields (time,src,dst,rate), got "${r.fields.join(',')}"`);
    const [t, src, dst, rateText] = r.fields as [string, string, string, string];
    const atSec = Number(t);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(t) || !Number.isFinite(atSec)) fail(r.line, `time "${t}" is not a number of seconds ≥ 0`);
    if (atSec < last) fail(r.line, `time ${atSec} s is before the previous line's ${last} s; lines must be in time order`);
    if (src === dst) fail(r.line, `a VM cannot send to itself ("${src}")`);
    let rate: number;
    if (/^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(rateText)) rate = Number(rateText);
    else {
      try {
        rate = parseBandwidth(rateText) / 8;
      } catch {
        return fail(r.line, `rate "${rateText}" is not a number of bytes/s or a bandwidth such as 12.5kB/s or 100kbps`);
      }
    }
    if (!Number.isFinite(rate)) fail(r.line, `rate "${rateText.slice(0, 40)}" is too large to be a number`);
    if (atSec !== last) seen.clear();
    last = atSec;
    const before = seen.get(key(src, dst));
    if (before !== undefined) fail(r.line, `lines ${before} and ${r.line} both give ${src} -> ${dst} at ${atSec} s; give one rate per pair and time`);
    seen.set(key(src, dst), r.line);
    const at = changes.at(-1);
    if (at !== undefined && at.atSec === atSec) {
      at.set.push({ src, dst, rate });
      at.lines.push(r.line);
    } else changes.push({ atSec, set: [{ src, dst, rate }], lines: [r.line] });
  }
  return changes;
}

/**
 * Checks that every VM a parsed trace names is one of `vms` (`what`: "scenario NAME", "the
 * workload"). Errors: TIMELINE_INVALID naming file:line of the first unknown VM, with the name
 * meant when it differs only in zero-padding (vm67 for vm067) or else an example of a valid one.
 */
export function checkTraceVms(changes: readonly TrafficChange[], vms: readonly string[], file: string, what: string): void {
  const known = new Set(vms);
  const unpadded = (name: string): string => name.replace(/\d+/g, (d) => String(Number(d)));
  let byUnpadded: Map<string, string> | undefined;
  for (const c of changes) {
    (c.set ?? []).forEach((f, i) => {
      for (const vm of [f.src, f.dst]) {
        if (known.has(vm)) continue;
        byUnpadded ??= new Map(vms.map((v) => [unpadded(v), v]));
        const meant = byUnpadded.get(unpadded(vm));
        const names = [...vms].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
        const hint = meant !== undefined ? `did you mean "${meant}"?` : names.length === 0 ? 'it has no VMs' : `its VMs are named ${names.length > 1 ? `"${names[0]}" .. "${names.at(-1)}"` : `"${names[0]}"`}`;
        const line = c.lines?.[i];
        throw new ScoreError('TIMELINE_INVALID', `${file}${line === undefined ? '' : `:${line}`}: at ${c.atSec} s: "${vm}" is not a VM of ${what}; ${hint}`, { file, ...(line === undefined ? {} : { line }), vm });
      }
    });
  }
}
