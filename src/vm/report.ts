import type { MigrationFigures } from '../agent/drivers/driver.ts';

/**
 * The table of real migrations: QEMU's own figures beside what the peers' probes saw. Pure.
 * Units: ms, MB (10^6 bytes), dirty pages/s; "-" where the driver measured nothing.
 */
export function qemuFiguresTable(
  runs: ReadonlyArray<{ policy: string; losses: ReadonlyArray<{ vm: string; to: string; sent: number; received: number; blackoutMs: number; figures?: MigrationFigures }> }>,
): string[] {
  const rows = [['policy', 'vm', 'to', 'total ms', 'downtime ms', 'setup ms', 'MB sent', 'dirty pg/s', 'probes lost', 'gap ms']];
  const n = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? '-' : v.toFixed(digits));
  for (const r of runs) {
    for (const x of r.losses) {
      const f = x.figures;
      rows.push([r.policy, x.vm, x.to, n(f?.totalTimeMs), n(f?.downtimeMs), n(f?.setupTimeMs), f ? (f.transferredBytes / 1e6).toFixed(1) : '-', n(f?.dirtyPagesRate), `${x.sent - x.received}/${x.sent}`, String(x.blackoutMs)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return ['', "== QEMU's figures for each migration (query-migrate) and the 10 ms probes of a namespace VM:", ...rows.map((r) => `  ${r.map((c, i) => c.padStart(widths[i]!)).join('  ')}`)];
}
