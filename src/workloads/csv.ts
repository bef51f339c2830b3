import type { DirectedFlow } from '../core/cost.ts';
import { ScoreError } from '../errors/errors.ts';
import { parseBandwidth } from '../scenario/bandwidth.ts';
import type { PlacementRow } from './placement.ts';

/**
 * CSV import. Plain comma-separated text: a header row is required, blank lines and lines
 * starting with `#` are skipped, fields are trimmed, quoting is not supported (VM and hypervisor
 * names have no commas). Every error is a ScoreError WORKLOAD_PARSE naming the file, the 1-based
 * line and what was expected; nothing is returned from a file with an error.
 *
 *  traffic matrix  `src,dst,rate`        rate in bytes/s, or with a unit: `12.5MB/s`, `100Mbps`
 *  flow trace      `time,src,dst,bytes`  time in seconds; rate = bytes / trace duration
 *  placement       `vm,hypervisor`
 */
export interface TrafficCsv {
  readonly kind: 'matrix' | 'trace';
  /** one flow per (src, dst) as written, rates summed over repeated lines, in first-seen order */
  readonly flows: readonly DirectedFlow[];
  /** every VM named, in first-seen order */
  readonly vms: readonly string[];
  /** trace only: seconds from the first to the last record (or as given) */
  readonly durationSec?: number;
}

interface Line {
  readonly line: number;
  readonly fields: readonly string[];
}

function lines(text: string): Line[] {
  const out: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    out.push({ line: i + 1, fields: s.split(',').map((f) => f.trim()) });
  });
  return out;
}

function fail(fileName: string, line: number, message: string): never {
  throw new ScoreError('WORKLOAD_PARSE', `${fileName}:${line}: ${message}`, { file: fileName, line });
}

function expectFields(fileName: string, l: Line, n: number, header: string): void {
  if (l.fields.length !== n) fail(fileName, l.line, `expected ${n} fields (${header}), got ${l.fields.length}`);
  l.fields.forEach((f, i) => {
    if (f === '') fail(fileName, l.line, `field ${i + 1} (${header.split(',')[i]}) is empty`);
  });
}

/** bytes/s from a plain number (bytes/s) or a bandwidth with a unit. */
function parseRate(fileName: string, line: number, s: string): number {
  let rate: number;
  if (/^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(s)) rate = Number(s);
  else {
    try {
      rate = parseBandwidth(s) / 8;
    } catch {
      fail(fileName, line, `rate "${s}" is not a number of bytes/s or a bandwidth such as 12.5MB/s or 100Mbps`);
    }
  }
  if (!Number.isFinite(rate)) fail(fileName, line, `rate "${s}" is not finite`);
  return rate;
}

const MATRIX_HEADER = 'src,dst,rate';
const TRACE_HEADER = 'time,src,dst,bytes';

export function readTrafficCsv(text: string, fileName: string, options: { readonly durationSec?: number } = {}): TrafficCsv {
  const ls = lines(text);
  const head = ls[0];
  if (head === undefined) fail(fileName, 1, `empty file; expected a header "${MATRIX_HEADER}" or "${TRACE_HEADER}"`);
  const header = head.fields.map((f) => f.toLowerCase()).join(',');
  if (header !== MATRIX_HEADER && header !== TRACE_HEADER) {
    fail(fileName, head.line, `expected a header "${MATRIX_HEADER}" or "${TRACE_HEADER}", got "${head.fields.join(',')}"`);
  }
  const trace = header === TRACE_HEADER;
  const sums = new Map<string, { src: string; dst: string; amount: number }>();
  const vms: string[] = [];
  const seenVm = new Set<string>();
  const noteVm = (vm: string): void => {
    if (!seenVm.has(vm)) {
      seenVm.add(vm);
      vms.push(vm);
    }
  };
  let tMin = Infinity;
  let tMax = -Infinity;
  for (const l of ls.slice(1)) {
    expectFields(fileName, l, trace ? 4 : 3, trace ? TRACE_HEADER : MATRIX_HEADER);
    const [src, dst] = trace ? [l.fields[1]!, l.fields[2]!] : [l.fields[0]!, l.fields[1]!];
    if (src === dst) fail(fileName, l.line, `src and dst are both "${src}"; expected two different VMs`);
    let amount: number;
    if (trace) {
      const t = Number(l.fields[0]);
      if (!Number.isFinite(t) || t < 0) fail(fileName, l.line, `time "${l.fields[0]}" is not a number of seconds >= 0`);
      const b = Number(l.fields[3]);
      if (!Number.isFinite(b) || b < 0) fail(fileName, l.line, `bytes "${l.fields[3]}" is not a number >= 0`);
      tMin = Math.min(tMin, t);
      tMax = Math.max(tMax, t);
      amount = b;
    } else {
      amount = parseRate(fileName, l.line, l.fields[2]!);
      if (amount < 0) fail(fileName, l.line, `rate "${l.fields[2]}" is negative; expected bytes/s >= 0`);
    }
    noteVm(src);
    noteVm(dst);
    const key = `${src}\u0000${dst}`;
    const s = sums.get(key);
    if (s === undefined) sums.set(key, { src, dst, amount });
    else s.amount += amount;
  }
  if (sums.size === 0) fail(fileName, head.line, 'no data rows after the header');
  if (!trace) return { kind: 'matrix', flows: [...sums.values()].map(({ src, dst, amount }) => ({ src, dst, rate: amount })), vms };
  const duration = options.durationSec ?? tMax - tMin;
  if (!(duration > 0) || !Number.isFinite(duration)) {
    fail(fileName, head.line, `the trace spans ${duration} s; expected records at two or more different times (or a given duration)`);
  }
  return { kind: 'trace', flows: [...sums.values()].map(({ src, dst, amount }) => ({ src, dst, rate: amount / duration })), vms, durationSec: duration };
}

export function readPlacementCsv(text: string, fileName: string): PlacementRow[] {
  const ls = lines(text);
  const head = ls[0];
  if (head === undefined) fail(fileName, 1, 'empty file; expected a header "vm,hypervisor"');
  if (head.fields.map((f) => f.toLowerCase()).join(',') !== 'vm,hypervisor') {
    fail(fileName, head.line, `expected a header "vm,hypervisor", got "${head.fields.join(',')}"`);
  }
  return ls.slice(1).map((l) => {
    expectFields(fileName, l, 2, 'vm,hypervisor');
    return { vm: l.fields[0]!, hypervisor: l.fields[1]!, line: l.line };
  });
}
