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

/** Cost after each step, one column per run. */
export function costTable(runs: readonly RunRecord[]): string {
  const t = new Table({ ...PLAIN, head: ['step', ...runs.map((r) => r.policy)] });
  const n = Math.max(...runs.map((r) => r.timeline.length));
  for (let i = 0; i < n; i++) {
    t.push([String(i), ...runs.map((r) => {
      const p = r.timeline[i];
      return p ? fmtCost(p.totalCost) : '';
    })]);
  }
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
