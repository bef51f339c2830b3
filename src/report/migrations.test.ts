import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate, type RunRecord, type StepRecord } from '../sim/run.ts';
import { isScoreError } from '../errors/errors.ts';
import { costChartSpec, renderSvg, utilisationChartSpec } from './charts.ts';
import { reportHtml } from './html.ts';
import { hasMigrationFigures, migrationsCsv } from './csv.ts';
import { writeRunOutputs } from '../cli/output.ts';
import { parseRuns } from '../cli/commands/report.ts';

const GENERATED = new Date('2025-01-02T03:04:05.000Z');

function paperRuns(): RunRecord[] {
  const { file, model } = loadScenarioFile('paper');
  return (['round-robin', 'load-aware'] as const).map((policy) => simulate(model, { policy, file, source: 'emulate' }));
}

/** What `score emulate --policy --vms qemu` puts on a step: QEMU's figures for odd steps, probes on every step, step 2 has none. */
function measured(runs: readonly RunRecord[]): RunRecord[] {
  return runs.map((r, ri) => ({
    ...r,
    steps: r.steps.map((s): StepRecord => {
      if (s.step === 2) return s;
      const probes = { sent: 300 + s.step, received: 290 + s.step - ri, blackoutMs: 90 + 10 * ri };
      if (s.step % 2 === 0) return { ...s, probes };
      return {
        ...s,
        migration: { source: 'qemu', totalTimeMs: 1000 + s.step, downtimeMs: 40 + s.step, setupTimeMs: 3, transferredBytes: 123_456_789, dirtyPagesRate: s.step === 1 ? null : 2500, memoryBytes: 268_435_456 },
        probes,
      };
    }),
  }));
}

async function html(runs: readonly RunRecord[]): Promise<string> {
  const figures = { cost: await renderSvg(costChartSpec(runs)), utilisation: await renderSvg(utilisationChartSpec(runs)) };
  return reportHtml({ runs, figures, generatedAt: GENERATED });
}

function policySection(page: string, id: string): string {
  const start = page.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `section ${id}`);
  return page.slice(start, page.indexOf('</section>', start));
}

test('a run whose steps carry QEMU figures and probes gets a table of its migrations in its own section', async () => {
  const runs = measured(paperRuns());
  const page = await html(runs);
  for (const [i, name] of ['round-robin', 'load-aware'].entries()) {
    const s = policySection(page, `run-${i + 1}-${name}`);
    assert.match(s, /<h3>Migrations as measured<\/h3>/);
    const table = s.slice(s.indexOf('<table class="migrations">'), s.indexOf('</table>', s.indexOf('<table class="migrations">')));
    assert.ok(table.length > 0, 'migrations table');
    const rows = table.match(/<tr class="migration-row">[^]*?<\/tr>/g) ?? [];
    // every step but step 2 was measured
    assert.equal(rows.length, runs[i]!.steps.length - 1);
    const one = runs[i]!.steps.find((x) => x.step === 1)!;
    const row1 = rows.find((r) => r.includes('<td class="num">1</td>'))!;
    assert.ok(row1.includes(`<td>${one.vm}</td>`) && row1.includes(`<td>${one.to}</td>`), row1);
    assert.ok(row1.includes('<td>qemu</td>'), row1);
    assert.ok(row1.includes('<td class="num">1001</td>') && row1.includes('<td class="num">41</td>'), 'total and downtime ms');
    assert.ok(row1.includes('<td class="num">123.5</td>'), 'MB sent');
    assert.ok(row1.includes('<td class="num">268</td>'), 'memory MB');
    assert.ok(row1.includes(`<td class="num">${10 + i}/301</td>`), 'probes lost of sent');
    assert.ok(row1.includes(`<td class="num">${90 + 10 * i}</td>`), 'longest gap');
    // no dirty-page rate measured: a dash, not a number
    assert.ok(row1.includes('<td class="num">-</td>'), 'unmeasured figure');
    // a step with probes only: its QEMU columns are dashes
    const row4 = rows.find((r) => r.includes('<td class="num">4</td>'))!;
    assert.ok(row4.includes('<td>-</td>') && (row4.match(/<td class="num">-<\/td>/g)?.length ?? 0) >= 6, row4);
  }
});

test('a run without measured migrations renders as before: no migrations table, same page as its plain record', async () => {
  const runs = paperRuns();
  assert.equal(hasMigrationFigures(runs), false);
  const page = await html(runs);
  assert.doesNotMatch(page, /Migrations as measured|class="migrations"|migration-row/);
  // the headings of a policy section are exactly the three of a simulated run
  const headings = policySection(page, 'run-1-round-robin').match(/<h3>[^<]*<\/h3>/g);
  assert.deepEqual(headings, ['<h3>Step table (cf. the paper\'s Tables III/IV)</h3>', '<h3>Decisions</h3>', '<h3>Mean utilisation per link layer</h3>']);
  // measured runs differ from the plain ones only by the added table
  const withTable = await html(measured(runs));
  const stripped = withTable.replace(/\n<h3>Migrations as measured<\/h3>\n<p class="note">[^<]*<code>--vms qemu<\/code>[^<]*<\/p>\n<table class="migrations">[^]*?<\/table>/g, '');
  assert.equal(stripped, page);
});

test('migrations.csv: one row per measured step, empty cells where nothing was measured', () => {
  const runs = measured(paperRuns());
  assert.equal(hasMigrationFigures(runs), true);
  const lines = migrationsCsv(runs).trimEnd().split('\n');
  assert.equal(lines[0], 'policy,step,vm,from,to,source,total_time_ms,downtime_ms,setup_time_ms,transferred_bytes,dirty_pages_rate,memory_bytes,probes_sent,probes_received,probes_lost,longest_gap_ms');
  assert.equal(lines.length - 1, runs[0]!.steps.length - 1 + runs[1]!.steps.length - 1);
  const s1 = runs[1]!.steps.find((s) => s.step === 1)!;
  assert.ok(lines.includes(`load-aware,1,${s1.vm},${s1.from},${s1.to},qemu,1001,41,3,123456789,,268435456,301,290,11,100`), lines.join('\n'));
  const s4 = runs[0]!.steps.find((s) => s.step === 4)!;
  assert.ok(lines.includes(`round-robin,4,${s4.vm},${s4.from},${s4.to},,,,,,,,304,294,10,90`), lines.join('\n'));
  assert.ok(!lines.some((l) => /^[a-z-]+,2,/.test(l)), 'step 2 measured nothing');
});

test('writeRunOutputs writes migrations.csv for measured runs only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-migrations-'));
  try {
    const plain = join(dir, 'plain');
    const written = await writeRunOutputs(plain, paperRuns(), false);
    assert.ok(!written.some((p) => p.endsWith('migrations.csv')), '!written.some((p) => p.endsWith(\'migrations.csv\'))');
    assert.equal(existsSync(join(plain, 'migrations.csv')), false);
    const emu = join(dir, 'emu');
    const runs = measured(paperRuns());
    const written2 = await writeRunOutputs(emu, runs, false);
    assert.ok(written2.some((p) => p.endsWith('migrations.csv')), 'written2.some((p) => p.endsWith(\'migrations.csv\'))');
    assert.equal(readFileSync(join(emu, 'migrations.csv'), 'utf8'), migrationsCsv(runs));
    // runs.json keeps the figures, and `score report` reads them back
    const back = parseRuns(readFileSync(join(emu, 'runs.json'), 'utf8'), 'runs.json');
    assert.deepEqual(back, runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('score report checks the measured fields it renders', () => {
  const runs = measured(paperRuns());
  const doc = (steps: unknown): string => JSON.stringify({ kind: 'score-runs', version: 1, runs: [{ ...runs[0], steps }] });
  const s = runs[0]!.steps.find((x) => x.step === 1)!;
  assert.throws(() => parseRuns(doc([{ ...s, migration: { ...s.migration, totalTimeMs: 'soon' } }]), 'r.json'), (e) => isScoreError(e, 'CLI_USAGE') && /steps\[0\]\.migration\.totalTimeMs: expected a number/.test(e.message));
  assert.throws(() => parseRuns(doc([{ ...s, probes: { sent: 3, received: 2 } }]), 'r.json'), (e) => isScoreError(e, 'CLI_USAGE') && /steps\[0\]\.probes\.blackoutMs/.test(e.message));
  assert.throws(() => parseRuns(doc([{ ...s, migration: { ...s.migration, source: 'guess' } }]), 'r.json'), (e) => isScoreError(e, 'CLI_USAGE') && /migration\.source/.test(e.message));
  assert.equal(parseRuns(doc([s]), 'r.json')[0]!.steps[0]!.migration?.downtimeMs, 41);
});
