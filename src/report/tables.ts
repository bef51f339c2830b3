import Table from 'cli-table3';
import type { RunRecord } from '../sim/run.ts';

// No colour codes (logs and CI read this) and no rule between body rows (long tables stay short).
const PLAIN = {
  style: { head: [], border: [] },
  chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
};

/** Measured costs carry float noise (19000.000001); two decimals are more than any rate is worth. */
function fmtCost(x: number): string {
  return String(+x.toFixed(2));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(3)}%`;
}

/** The paper's Tables III/IV: one column per VM that moves (with its first host), one row per step. */
export function stepTable(run: RunRecord, vmOrder: readonly string[]): string {
  const moved = vmOrder.filter((vm) => run.steps.some((s) => s.vm === vm));
  const t = new Table({ ...PLAIN, head: ['step', ...moved] });
  t.push(['', ...moved.map((vm) => run.initialPlacement[vm] ?? '?')]);
  for (const s of run.steps) t.push([String(s.step), ...moved.map((vm) => (vm === s.vm ? s.to : ''))]);
  return t.toString();
}

/**
 * The cost after each step, one row per step, one cost (or undefined) per run. A phased run's
 * point at a phase's start repeats the step number before it (the cost's jump at the change):
 * its row is labelled `6 (phase 2 starts)` and follows row `6`. Rows are the union of the runs'
 * points, by step, a phase's start after its step. Pure.
 */
export function costRows(runs: readonly RunRecord[]): { label: string; costs: (number | undefined)[] }[] {
  const rows = new Map<string, { step: number; start: boolean; costs: (number | undefined)[] }>();
  runs.forEach((r, j) => {
    r.timeline.forEach((p, i) => {
      const start = p.phase !== undefined && p.phase > 0 && r.timeline[i - 1]?.phase !== p.phase;
      const label = start ? `${p.step} (phase ${(p.phase ?? 0) + 1} starts)` : String(p.step);
      let row = rows.get(label);
      if (row === undefined) rows.set(label, (row = { step: p.step, start, costs: runs.map(() => undefined) }));
      row.costs[j] = p.totalCost;
    });
  });
  return [...rows.entries()].sort(([, a], [, b]) => a.step - b.step || Number(a.start) - Number(b.start)).map(([label, r]) => ({ label, costs: r.costs }));
}

/** Cost after each step, one column per run (`costRows`). */
export function costTable(runs: readonly RunRecord[]): string {
  const t = new Table({ ...PLAIN, head: ['step', ...runs.map((r) => r.policy)] });
  for (const row of costRows(runs)) t.push([row.label, ...row.costs.map((c) => (c === undefined ? '' : fmtCost(c)))]);
  return t.toString();
}

/** Mean utilisation per link layer after each step (links that carry traffic only, as the paper). */
export function utilisationTable(run: RunRecord): string {
  const t = new Table({ ...PLAIN, head: ['step', ...run.layerNames.map((n, i) => `L${i + 1} ${n}`)] });
  for (const p of run.timeline) t.push([String(p.step), ...p.layers.map((l) => `${pct(l.meanUtilisation)} (${l.activeLinks})`)]);
  return t.toString();
}

/** Each migration with the reason the hypervisor gave. */
export function reasonTable(run: RunRecord): string {
  const t = new Table({ ...PLAIN, head: ['step', 'vm', 'from', 'to', 'C_A(u) before', 'after', 'total after', 'reason'] });
  for (const s of run.steps) {
    t.push([String(s.step), s.vm, s.from, s.to, fmtCost(s.vmCostBefore), fmtCost(s.vmCostAfter), fmtCost(s.totalAfter), s.reason]);
  }
  return t.toString();
}
