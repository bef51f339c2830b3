import { ScoreError } from '../errors/errors.ts';
import type { RunRecord } from '../sim/run.ts';
import { costRows } from './tables.ts';

/**
 * `score report`: a run set as one self-contained HTML page (inline CSS and SVG, no scripts, no
 * external resources), so it can be mailed, archived next to runs.json or printed as it is.
 * Pure: the figures arrive already rendered and the generation time is an argument, so the same
 * input always gives the same bytes.
 */
export interface ReportFigures {
  /** Fig. 4: C_A after each migration (charts.ts costChartSpec, rendered with renderSvg) */
  readonly cost: string;
  /** Fig. 3: per-layer utilisation (charts.ts utilisationChartSpec, rendered with renderSvg) */
  readonly utilisation: string;
}

export interface ReportInput {
  readonly runs: readonly RunRecord[];
  readonly figures: ReportFigures;
  readonly generatedAt: Date;
  /** where the runs were read from, shown in the header; omitted when absent */
  readonly inputFile?: string;
}

const POLICY_LABEL: Record<string, string> = { 'round-robin': 'Round-Robin', 'load-aware': 'Load-Aware', 'gain-order': 'Gain-ordered' };
const SOURCE_LABEL: Record<string, string> = {
  demo: 'score demo (whole system on the simulated data plane)',
  simulate: 'score simulate (pure model, fluid data plane)',
  emulate: 'score emulate (Open vSwitch and network namespaces)',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const esc = escapeHtml;

/** Measured costs carry float noise (19000.000001); two decimals are more than any rate is worth. */
function fmtCost(x: number): string {
  return String(+x.toFixed(2));
}

function fmtPct(x: number): string {
  return `${(x * 100).toFixed(3)}%`;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/**
 * Column labels for runs: the policy name, unless two runs share it (runs.json files can be
 * concatenated by hand), where the position keeps the columns apart.
 */
function runLabels(runs: readonly RunRecord[]): string[] {
  const base = runs.map((r) => POLICY_LABEL[r.policy] ?? r.policy);
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b} #${i + 1}` : b));
}

/** Element ids from user-controlled names: anything outside [a-z0-9-] would need escaping in CSS and URLs. */
function slug(s: string, i: number): string {
  return `run-${i + 1}-${s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
}

/**
 * The SVG goes into the page verbatim, so refuse anything but a plain SVG element: vega escapes
 * the user's text inside it, but a caller could hand in any string.
 */
function inlineSvg(svg: string, what: string): string {
  const body = svg.replace(/^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?/i, '');
  if (!/^<svg[\s>]/.test(body) || /<\s*(script|foreignObject|iframe)\b/i.test(body) || /\s(href|xlink:href|src)\s*=\s*["']?\s*(https?:|\/\/|javascript:)/i.test(body)) {
    throw new ScoreError('INTERNAL', `report: the ${what} figure is not a self-contained SVG element`);
  }
  return body.trim();
}

function table(head: readonly string[][], rows: readonly string[][], cls = ''): string {
  const thead = head.map((r) => `<tr>${r.join('')}</tr>`).join('\n');
  const tbody = rows.map((r) => r.join('')).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}>\n<thead>\n${thead}\n</thead>\n<tbody>\n${tbody}\n</tbody>\n</table>`;
}

const th = (s: string, attrs = ''): string => `<th${attrs}>${esc(s)}</th>`;
const td = (s: string, attrs = ''): string => `<td${attrs}>${esc(s)}</td>`;
const num = (s: string): string => td(s, ' class="num"');

/** VM order for step-table columns: the scenario's, which initialPlacement keeps (JSON preserves key order). */
function vmOrder(run: RunRecord): string[] {
  return unique([...Object.keys(run.initialPlacement), ...run.steps.map((s) => s.vm)]);
}

/** The paper's Tables III/IV: one column per VM that moved (with its first host), one row per step. */
function stepTable(run: RunRecord): string {
  if (run.steps.length === 0) return '<p class="note">No VM moved.</p>';
  const moved = vmOrder(run).filter((vm) => run.steps.some((s) => s.vm === vm));
  const head = [
    [th('step'), ...moved.map((vm) => th(vm, ' scope="col"'))],
    [th('initial host', ' class="sub"'), ...moved.map((vm) => th(run.initialPlacement[vm] ?? '?', ' class="sub"'))],
  ];
  const rows = run.steps.map((s) => [
    `<tr class="step-row">`,
    th(String(s.step), ' scope="row"'),
    ...moved.map((vm) => td(vm === s.vm ? s.to : '')),
    '</tr>',
  ]);
  return table(head, rows, 'steps');
}

function decisionsTable(run: RunRecord): string {
  if (run.steps.length === 0) return '';
  const head = [['step', 'round', 'vm', 'from', 'to', 'C_A(u) before', 'C_A(u) after', 'total after', 'reason'].map((h) => th(h))];
  const rows = run.steps.map((s) => [
    '<tr class="decision-row">',
    num(String(s.step)),
    num(String(s.round)),
    td(s.vm),
    td(s.from),
    td(s.to),
    num(fmtCost(s.vmCostBefore)),
    num(fmtCost(s.vmCostAfter)),
    num(fmtCost(s.totalAfter)),
    td(s.reason, ' class="reason"'),
    '</tr>',
  ]);
  return table(head, rows, 'decisions');
}

/**
 * Emulated runs: each migration's own figures (QEMU's query-migrate with --vms qemu) beside what
 * the peers' 10 ms probes saw; '' when no step carries them (simulated runs, demo). Units as in
 * src/vm/report.ts qemuFiguresTable: ms, MB (10^6 bytes), dirty pages/s; "-" where not measured.
 */
function migrationsTable(run: RunRecord): string {
  const measured = run.steps.filter((s) => s.migration !== undefined || s.probes !== undefined);
  if (measured.length === 0) return '';
  const n = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? '-' : v.toFixed(digits));
  const head = [['step', 'vm', 'to', 'measured by', 'total ms', 'downtime ms', 'setup ms', 'MB sent', 'dirty pages/s', 'memory MB', 'probes lost', 'longest gap ms'].map((h) => th(h))];
  const rows = measured.map((s) => {
    const f = s.migration;
    const p = s.probes;
    return [
      '<tr class="migration-row">',
      num(String(s.step)),
      td(s.vm),
      td(s.to),
      td(f?.source ?? '-'),
      num(n(f?.totalTimeMs)),
      num(n(f?.downtimeMs)),
      num(n(f?.setupTimeMs)),
      num(f ? (f.transferredBytes / 1e6).toFixed(1) : '-'),
      num(n(f?.dirtyPagesRate)),
      num(f === undefined || f.memoryBytes === null ? '-' : (f.memoryBytes / 1e6).toFixed(0)),
      num(p ? `${p.sent - p.received}/${p.sent}` : '-'),
      num(n(p?.blackoutMs)),
      '</tr>',
    ];
  });
  return `<h3>Migrations as measured</h3>
<p class="note">Each migration's own figures (QEMU's query-migrate with <code>--vms qemu</code>, else the driver's wall clock) and the probes the VM's peers sent it every 10 ms while it moved; longest gap: the longest run of lost probes.</p>
${table(head, rows, 'migrations')}`;
}

/**
 * A run with traffic phases (`phases`): one row per phase, its start, C_A at its start and after
 * its plan, its migrations (against the fewest, where the run knows them) and whether it
 * converged; '' without phases.
 */
function phasesTable(run: RunRecord): string {
  const phases = run.phases ?? [];
  if (phases.length === 0) return '';
  const known = phases.some((p) => p.fewestMigrations !== undefined);
  const head = [['phase', 'from (s)', 'flows', 'C_A at start', 'C_A after', 'migrations', ...(known ? ['fewest'] : []), 'steps', 'rounds', 'converged'].map((h) => th(h))];
  const rows = phases.map((p) => [
    '<tr class="phase-row">',
    num(String(p.phase + 1)),
    num(String(+p.startSec.toFixed(2))),
    num(String(p.flows)),
    num(fmtCost(p.costAtStart)),
    num(fmtCost(p.costAfter)),
    num(String(p.migrations)),
    ...(known ? [num(p.fewestMigrations === undefined ? '-' : String(p.fewestMigrations))] : []),
    num(p.migrations === 0 ? '-' : `${p.firstStep}-${p.firstStep + p.migrations - 1}`),
    num(String(p.rounds)),
    td(p.converged ? 'yes' : 'no'),
    '</tr>',
  ]);
  return `<h3>Traffic phases</h3>
<p class="note">The scenario's traffic changes at each phase's start; the policy goes on from where the last phase left the VMs. C_A at start: the old placement on the new traffic${run.source === 'simulate' ? '' : ', measured a rate window after the change'}.${known ? ' Fewest: the migrations that make every flow of the phase local from where the VMs were at that reading (a lower bound where hypervisors are full).' : ''}</p>
${table(head, rows, 'phases')}`;
}

function utilisationTable(run: RunRecord): string {
  if (run.timeline.length === 0) return '';
  const head = [[th('step'), ...run.layerNames.map((n, i) => th(`L${i + 1} ${n}`))]];
  const rows = run.timeline.map((p) => [
    '<tr>',
    num(String(p.step)),
    ...p.layers.map((l) => num(`${fmtPct(l.meanUtilisation)} (${l.activeLinks})`)),
    '</tr>',
  ]);
  return table(head, rows, 'utilisation');
}

function costComparisonTable(runs: readonly RunRecord[], labels: readonly string[]): string {
  const head = [[th('step'), ...labels.map((l) => th(l))]];
  const rows = costRows(runs).map((row) => ['<tr class="cost-row">', num(row.label), ...row.costs.map((c) => num(c === undefined ? '' : fmtCost(c))), '</tr>']);
  return table(head, rows, 'costs');
}

function summaryTable(runs: readonly RunRecord[], labels: readonly string[]): string {
  const head = [['policy', 'source', 'c_m', 'decision mode', 'step (s)', 'max rounds', 'migrations', 'rounds', 'converged', 'C_A initial', 'C_A final', 'VMs asked'].map((h) => th(h))];
  const rows = runs.map((r, i) => [
    '<tr>',
    th(labels[i] ?? r.policy, ' scope="row"'),
    td(r.source),
    num(fmtCost(r.params.migrationCost)),
    td(r.params.decisionMode),
    num(String(r.params.stepSeconds)),
    num(String(r.params.maxRounds)),
    num(String(r.migrations)),
    num(String(r.rounds)),
    td(r.converged ? 'yes' : 'no (round limit)'),
    num(fmtCost(r.initialCost)),
    num(fmtCost(r.finalCost)),
    num(String(r.decisions.length)),
    '</tr>',
  ]);
  return table(head, rows, 'summary');
}

/** Every VM once: where it started and where each run left it; moved VMs stand out. */
function placementTable(runs: readonly RunRecord[], labels: readonly string[]): string {
  const vms = unique(runs.flatMap((r) => [...Object.keys(r.initialPlacement), ...Object.keys(r.finalPlacement)]));
  const head = [[th('vm'), th('initial host'), ...labels.map((l) => th(`${l}: final host`))]];
  const rows = vms.map((vm) => {
    const initial = runs.map((r) => r.initialPlacement[vm]).find((h) => h !== undefined) ?? '';
    return [
      '<tr>',
      th(vm, ' scope="row"'),
      td(initial),
      ...runs.map((r) => {
        const from = r.initialPlacement[vm];
        const to = r.finalPlacement[vm] ?? '';
        return from !== to ? `<td class="moved">${esc(to)}</td>` : td(to);
      }),
      '</tr>',
    ];
  });
  return table(head, rows, 'placement');
}

function hostCounts(run: RunRecord): string {
  const counts = new Map<string, number>();
  for (const h of Object.values(run.finalPlacement)) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts].map(([h, n]) => `${h}: ${n}`).join(', ');
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1b1b1b; background: #fff; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1200px; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .75rem 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #bbb; padding: .2rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f0f0f0; }
th.sub { font-weight: normal; color: #555; background: #f7f7f7; }
td.num { text-align: right; }
td.reason { max-width: 42rem; }
td.moved { font-weight: 700; background: #fff6d6; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: .9rem; margin-top: .3rem; }
p.note { color: #555; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; }
@media print {
  body { padding: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, table.steps, table.summary, table.costs, table.migrations { break-inside: avoid; }
  section.policy { break-before: page; }
  td.moved, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

export function reportHtml(input: ReportInput): string {
  const { runs, figures } = input;
  if (runs.length === 0) throw new ScoreError('CLI_USAGE', 'report: there are no runs to report');
  const labels = runLabels(runs);
  const scenarios = unique(runs.map((r) => r.scenario.name));
  const files = unique(runs.map((r) => r.scenario.file));
  const sources = unique(runs.map((r) => r.source));
  const title = `S-CORE report: scenario ${scenarios.join(', ')}`;

  const meta: [string, string][] = [
    ['scenario', scenarios.join(', ')],
    ['scenario file', files.join(', ')],
    ['source', sources.map((s) => SOURCE_LABEL[s] ?? s).join('; ')],
    ['policies', labels.join(', ')],
    ['generated', input.generatedAt.toISOString()],
  ];
  if (input.inputFile !== undefined) meta.push(['runs read from', input.inputFile]);

  const policySections = runs.map((r, i) => {
    const label = labels[i] ?? r.policy;
    const declined = r.decisions.filter((d) => d.to === null).length;
    const measured = migrationsTable(r);
    const phases = phasesTable(r);
    return `<section class="policy" id="${slug(r.policy, i)}">
<h2>${esc(label)}</h2>
<p>${r.migrations} migration(s) in ${r.rounds} round(s), C_A ${esc(fmtCost(r.initialCost))} &rarr; ${esc(fmtCost(r.finalCost))}${r.converged ? '' : ' (not converged: round limit reached)'}; ${r.decisions.length} VM(s) asked, ${declined} declined.</p>
${phases === '' ? '' : `${phases}\n`}<h3>Step table (cf. the paper's Tables III/IV)</h3>
<p class="note">One column per VM that moved, headed by its first host; each row is one migration and names the VM's new host.</p>
${stepTable(r)}
<h3>Decisions</h3>
${decisionsTable(r)}${measured === '' ? '' : `\n${measured}`}
<h3>Mean utilisation per link layer</h3>
<p class="note">Over links that carry traffic (active links in brackets).</p>
${utilisationTable(r)}
<p class="note">Final VMs per hypervisor: ${esc(hostCounts(r))}</p>
</section>`;
  });

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="S-CORE score report">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('\n')}
</dl>
</header>
<main>
<section id="parameters">
<h2>Runs and parameters</h2>
${summaryTable(runs, labels)}
</section>
<section id="figures">
<h2>Figures</h2>
<figure id="fig4">
${inlineSvg(figures.cost, 'cost')}
<figcaption>Overall communication cost C_A (Eq. 2; bytes/s &times; path weight) after each migration, per policy (cf. the paper's Fig. 4).</figcaption>
</figure>
<figure id="fig3">
${inlineSvg(figures.utilisation, 'utilisation')}
<figcaption>Mean link utilisation per layer, over links carrying traffic, after each migration (cf. the paper's Fig. 3).</figcaption>
</figure>
</section>
<section id="costs">
<h2>Cost after each migration</h2>
${costComparisonTable(runs, labels)}
</section>
${policySections.join('\n')}
<section id="placement">
<h2>Final placement</h2>
${placementTable(runs, labels)}
</section>
</main>
</body>
</html>
`;
}
