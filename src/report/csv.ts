import type { RunRecord } from '../sim/run.ts';

function cell(v: string | number | boolean): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(head: readonly string[], rows: readonly (readonly (string | number | boolean)[])[]): string {
  return [head, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/**
 * Whether some run has traffic phases (`phases`: simulate on a timeline, a continuous live run):
 * then timeline.csv and steps.csv end with a `phase` column (0-based, as in runs.json; empty for a
 * run without phases). Without, the files are as they were before phases existed.
 */
function phased(runs: readonly RunRecord[]): boolean {
  return runs.some((r) => r.phases !== undefined && r.phases.length > 0);
}

/** One row per run and point in time: the cost and every layer's utilisation (and `phase`, see `phased`). */
export function timelineCsv(runs: readonly RunRecord[]): string {
  const maxLayers = Math.max(...runs.map((r) => r.layerNames.length));
  const withPhase = phased(runs);
  const head = ['policy', 'step', 'time_s', 'total_cost'];
  for (let i = 1; i <= maxLayers; i++) head.push(`layer${i}_mean_utilisation`, `layer${i}_active_links`);
  if (withPhase) head.push('phase');
  const rows = runs.flatMap((r) =>
    r.timeline.map((p) => {
      const row: (string | number)[] = [r.policy, p.step, p.time, p.totalCost];
      for (let i = 0; i < maxLayers; i++) {
        const l = p.layers[i];
        row.push(l ? l.meanUtilisation : '', l ? l.activeLinks : '');
      }
      if (withPhase) row.push(p.phase ?? '');
      return row;
    }),
  );
  return csv(head, rows);
}

/** One row per migration (and `phase`, see `phased`). */
export function stepsCsv(runs: readonly RunRecord[]): string {
  const withPhase = phased(runs);
  const head = ['policy', 'step', 'round', 'vm', 'from', 'to', 'vm_cost_before', 'vm_cost_after', 'total_before', 'total_after', 'reason', ...(withPhase ? ['phase'] : [])];
  const rows = runs.flatMap((r) =>
    r.steps.map((s) => [r.policy, s.step, s.round, s.vm, s.from, s.to, s.vmCostBefore, s.vmCostAfter, s.totalBefore, s.totalAfter, s.reason, ...(withPhase ? [s.phase ?? ''] : [])]),
  );
  return csv(head, rows);
}

/** True when some step of some run carries a measured migration (emulated runs): then migrations.csv is worth writing. */
export function hasMigrationFigures(runs: readonly RunRecord[]): boolean {
  return runs.some((r) => r.steps.some((s) => s.migration !== undefined || s.probes !== undefined));
}

/**
 * One row per measured migration: the driver's figures (RunRecord step `migration`; ms, bytes,
 * pages/s, as QEMU's query-migrate gives them) and the peers' probes (`probes`); empty cells
 * where nothing was measured.
 */
export function migrationsCsv(runs: readonly RunRecord[]): string {
  const head = ['policy', 'step', 'vm', 'from', 'to', 'source', 'total_time_ms', 'downtime_ms', 'setup_time_ms', 'transferred_bytes', 'dirty_pages_rate', 'memory_bytes', 'probes_sent', 'probes_received', 'probes_lost', 'longest_gap_ms'];
  const v = (x: number | string | null | undefined): string | number => x ?? '';
  const rows = runs.flatMap((r) =>
    r.steps
      .filter((s) => s.migration !== undefined || s.probes !== undefined)
      .map((s) => {
        const f = s.migration;
        const p = s.probes;
        return [r.policy, s.step, s.vm, s.from, s.to, v(f?.source), v(f?.totalTimeMs), v(f?.downtimeMs), v(f?.setupTimeMs), v(f?.transferredBytes), v(f?.dirtyPagesRate), v(f?.memoryBytes), v(p?.sent), v(p?.received), p ? p.sent - p.received : '', v(p?.blackoutMs)];
      }),
  );
  return csv(head, rows);
}
