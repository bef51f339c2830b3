import type { RunRecord } from '../sim/run.ts';

function cell(v: string | number | boolean): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(head: readonly string[], rows: readonly (readonly (string | number | boolean)[])[]): string {
  return [head, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** One row per run and point in time: the cost and every layer's utilisation. */
export function timelineCsv(runs: readonly RunRecord[]): string {
  const maxLayers = Math.max(...runs.map((r) => r.layerNames.length));
  const head = ['policy', 'step', 'time_s', 'total_cost'];
  for (let i = 1; i <= maxLayers; i++) head.push(`layer${i}_mean_utilisation`, `layer${i}_active_links`);
  const rows = runs.flatMap((r) =>
    r.timeline.map((p) => {
      const row: (string | number)[] = [r.policy, p.step, p.time, p.totalCost];
      for (let i = 0; i < maxLayers; i++) {
        const l = p.layers[i];
        row.push(l ? l.meanUtilisation : '', l ? l.activeLinks : '');
      }
      return row;
    }),
  );
  return csv(head, rows);
}

export function stepsCsv(runs: readonly RunRecord[]): string {
  const head = ['policy', 'step', 'round', 'vm', 'from', 'to', 'vm_cost_before', 'vm_cost_after', 'total_before', 'total_after', 'reason'];
  const rows = runs.flatMap((r) =>
    r.steps.map((s) => [r.policy, s.step, s.round, s.vm, s.from, s.to, s.vmCostBefore, s.vmCostAfter, s.totalBefore, s.totalAfter, s.reason]),
  );
  return csv(head, rows);
}
