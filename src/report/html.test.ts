import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadScenarioFile } from '../scenario/load.ts';
import { simulate, simulateTimeline, type RunRecord } from '../sim/run.ts';
import { isScoreError } from '../errors/errors.ts';
import { costChartSpec, renderSvg, utilisationChartSpec } from './charts.ts';
import { escapeHtml, reportHtml } from './html.ts';
import { buildReport, parseRuns, registerReport } from '../cli/commands/report.ts';

const GENERATED = new Date('2025-01-02T03:04:05.000Z');
const bin = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

function paperRuns(): RunRecord[] {
  const { file, model } = loadScenarioFile('paper');
  return (['round-robin', 'load-aware'] as const).map((policy) => simulate(model, { policy, file, source: 'demo' }));
}

async function html(runs: readonly RunRecord[]): Promise<string> {
  const figures = { cost: await renderSvg(costChartSpec(runs)), utilisation: await renderSvg(utilisationChartSpec(runs)) };
  return reportHtml({ runs, figures, generatedAt: GENERATED });
}

/** The text of the element with this id, up to its closing tag (sections do not nest here). */
function section(page: string, id: string): string {
  const start = page.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `section ${id}`);
  return page.slice(start, page.indexOf('</section>', start));
}

function score(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('the report of the paper runs has both figures, six step rows per policy, the parameters and the tables', async () => {
  const runs = paperRuns();
  const page = await html(runs);
  assert.match(page, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(page, /<meta charset="utf-8">/);
  assert.match(page, /<title>S-CORE report: scenario paper<\/title>/);
  assert.match(page, /2025-01-02T03:04:05\.000Z/);
  assert.match(page, /score demo/);
  assert.ok(page.includes(runs[0]!.scenario.file), 'scenario file');

  // Both figures, inline.
  assert.equal(page.match(/<svg[\s>]/g)?.length, 2);
  assert.match(section(page, 'figures'), /<figure id="fig4">\n<svg[^]*Overall communication cost[^]*<\/svg>/);
  assert.match(section(page, 'figures'), /<figure id="fig3">\n<svg[^]*Mean link utilisation per layer[^]*<\/svg>/);

  for (const [i, name] of ['Round-Robin', 'Load-Aware'].entries()) {
    const s = section(page, `run-${i + 1}-${name.toLowerCase()}`);
    assert.match(s, new RegExp(`<h2>${name}</h2>`));
    assert.equal(s.match(/<tr class="step-row">/g)?.length, 6, `${name}: six step rows`);
    assert.equal(s.match(/<tr class="decision-row">/g)?.length, 6, `${name}: six decisions`);
    assert.match(s, /6 migration\(s\) in \d round\(s\), C_A 25000 &rarr; 0/);
  }
  // Round-Robin's Table III: vm1 ... vm22 with their first hosts, vm1 to hv17 in step 1.
  const rr = section(page, 'run-1-round-robin');
  assert.match(rr, /<th>step<\/th><th scope="col">vm1<\/th><th scope="col">vm2<\/th><th scope="col">vm3<\/th><th scope="col">vm5<\/th><th scope="col">vm11<\/th><th scope="col">vm22<\/th>/);
  assert.match(rr, /<th class="sub">hv16<\/th><th class="sub">hv16<\/th><th class="sub">hv16<\/th><th class="sub">hv17<\/th><th class="sub">hv19<\/th><th class="sub">hv23<\/th>/);
  assert.match(rr, /<tr class="step-row"><th scope="row">1<\/th><td>hv17<\/td><td><\/td>/);
  assert.match(rr, /moving next to vm6 on hv17 cuts C_A\(vm1\) from 1000 to 0/);

  // Parameters: c_m, decision mode, step seconds, max rounds, per policy.
  const params = section(page, 'parameters');
  for (const h of ['c_m', 'decision mode', 'step (s)', 'max rounds']) assert.ok(params.includes(`<th>${h}</th>`), h);
  const p = runs[0]!.params;
  assert.match(params, new RegExp(`<th scope="row">Round-Robin</th><td>demo</td><td class="num">${p.migrationCost}</td><td>${p.decisionMode}</td><td class="num">${p.stepSeconds}</td><td class="num">${p.maxRounds}</td>`));
  assert.match(params, /<th scope="row">Load-Aware<\/th>/);

  // Cost comparison: step 0..6, both columns (the paper's Fig. 4 numbers).
  const costs = section(page, 'costs');
  assert.equal(costs.match(/<tr class="cost-row">/g)?.length, 7);
  assert.match(costs, /<td class="num">1<\/td><td class="num">24000<\/td><td class="num">19000<\/td>/);

  // Final placement: all 24 VMs, the moved ones marked.
  const placement = section(page, 'placement');
  assert.equal(placement.match(/<tr><th scope="row">vm/g)?.length, 24);
  assert.match(placement, /<th scope="row">vm1<\/th><td>hv16<\/td><td class="moved">hv17<\/td>/);
});

test('a run with traffic phases gets a phases table (the fewest column only where the run knows it); a run without, none', async () => {
  const { file, model } = loadScenarioFile('paper-phases');
  const la = simulateTimeline(model, { policy: 'load-aware', file });
  const page = await html([la]);
  const rows = page.match(/<tr class="phase-row">[\s\S]*?<\/tr>/g) ?? [];
  assert.equal(rows.length, 2, page);
  const p2 = la.phases![1]!;
  // phase, from, flows, C_A at start and after, migrations, their steps, rounds, converged
  assert.equal(rows[1], `<tr class="phase-row">${['2', '120', '6', String(p2.costAtStart), '0', '6', '7-12', String(p2.rounds)].map((c) => `<td class="num">${c}</td>`).join('')}<td>yes</td></tr>`);
  assert.doesNotMatch(page, />fewest</);
  // a live run's phases carry the fewest migrations
  const live = { ...la, source: 'demo' as const, phases: la.phases!.map((p) => ({ ...p, fewestMigrations: 6 })) };
  assert.match(await html([live]), /<th>fewest<\/th>/);
  assert.doesNotMatch(await html(paperRuns()), /Traffic phases|phase-row/);
  // runs.json with a malformed phase is refused by name
  assert.throws(() => parseRuns(JSON.stringify({ ...la, phases: [{ ...la.phases![0], costAtStart: 'x' }] }), 'r.json'), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /\$\.phases\[0\]\.costAtStart: expected a number/.test((e as Error).message));
});

test('the report is self-contained: no scripts, no external src/href, no url() imports', async () => {
  const page = await html(paperRuns());
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /\s(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?\/\//i);
  assert.doesNotMatch(page, /<link\b/i);
  assert.doesNotMatch(page, /@import|url\(\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(page, /<(iframe|img|object|embed)\b/i);
});

test('user text is escaped: a scenario name, VM name or reason with markup stays text', async () => {
  const [run] = paperRuns();
  const evil = '<script>alert("x")</script>';
  const step = run!.steps[0]!;
  const bad: RunRecord = {
    ...run!,
    scenario: { name: `${evil} & co`, file: `/tmp/${evil}.yaml` },
    initialPlacement: { ...run!.initialPlacement, [`<b>vm</b>`]: 'hv16' },
    finalPlacement: { ...run!.finalPlacement, [`<b>vm</b>`]: `<i>hv</i>` },
    steps: [{ ...step, reason: `${evil} because` }, ...run!.steps.slice(1)],
  };
  const page = await html([bad]);
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<b>vm<\/b>|<i>hv<\/i>/);
  assert.ok(page.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; because'), 'page.includes(\'&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; because\')');
  assert.ok(page.includes('<title>S-CORE report: scenario &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; co</title>'), 'page.includes(\'<title>S-CORE report: scenario &#60;script&#62;alert(&#34;x&#34;)&#60;/s...');
  assert.equal(escapeHtml(`<a href='x'>&</a>`), '&#60;a href=&#39;x&#39;&#62;&#38;&#60;/a&#62;');
});

test('a figure that is not a plain SVG element is refused rather than inlined', () => {
  const runs = paperRuns();
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"></svg>';
  assert.doesNotThrow(() => reportHtml({ runs, figures: { cost: `<?xml version="1.0"?>\n${svg}`, utilisation: svg }, generatedAt: GENERATED }));
  for (const cost of ['<div></div>', '<svg><script>x()</script></svg>', '<svg><image href="https://e.com/x.png"/></svg>']) {
    assert.throws(() => reportHtml({ runs, figures: { cost, utilisation: svg }, generatedAt: GENERATED }), (e) => isScoreError(e, 'INTERNAL'));
  }
  assert.throws(() => reportHtml({ runs: [], figures: { cost: svg, utilisation: svg }, generatedAt: GENERATED }), (e) => isScoreError(e, 'CLI_USAGE'));
});

test('parseRuns takes runs.json and a single run record, and names the file and the problem otherwise', () => {
  const runs = paperRuns();
  assert.equal(parseRuns(JSON.stringify({ kind: 'score-runs', version: 1, runs }), 'runs.json').length, 2);
  assert.deepEqual(parseRuns(JSON.stringify(runs[1]), 'one.json'), [runs[1]]);
  const cases: [string, 'SCENARIO_PARSE' | 'CLI_USAGE', RegExp][] = [
    ['{"kind": "score-runs",', 'SCENARIO_PARSE', /^x\.json: not valid JSON .*expected runs\.json/],
    ['[1, 2]', 'CLI_USAGE', /^x\.json: not a run record: the top level is an array; expected runs\.json/],
    ['{"kind": "score-scenario"}', 'CLI_USAGE', /kind: expected "score-runs" or "score-run", got "score-scenario"/],
    [JSON.stringify({ kind: 'score-runs', version: 2, runs }), 'CLI_USAGE', /version: expected 1, got number 2/],
    [JSON.stringify({ kind: 'score-runs', version: 1, runs: [] }), 'CLI_USAGE', /runs: the list is empty/],
    [JSON.stringify({ kind: 'score-runs', version: 1, runs: [runs[0], { ...runs[1], steps: [{ ...runs[1]!.steps[0], to: 7 }] }] }), 'CLI_USAGE', /runs\[1\]\.steps\[0\]\.to: expected a string, got number 7/],
    [JSON.stringify({ ...runs[0], policy: 'random' }), 'CLI_USAGE', /\$\.policy: expected "round-robin" or "load-aware" or "gain-order", got "random"/],
  ];
  for (const [text, code, message] of cases) {
    assert.throws(() => parseRuns(text, 'x.json'), (e) => isScoreError(e, code) && message.test(e.message), text.slice(0, 60));
  }
});

test('registerReport: the command reads a directory, writes the page, and throws ScoreErrors for bad input', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runs = paperRuns();
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'out', 'runs.json'), JSON.stringify({ kind: 'score-runs', version: 1, runs }));
  const program = new Command().exitOverride();
  registerReport(program);
  const log = t.mock.method(console, 'log', () => undefined);
  await program.parseAsync(['node', 'score', 'report', join(dir, 'out')]);
  assert.match(String(log.mock.calls[0]?.arguments[0]), /Wrote .*report\.html \(2 run\(s\): round-robin, load-aware; scenario paper\)/);
  const page = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
  assert.equal(page.match(/<svg[\s>]/g)?.length, 2);
  assert.equal(page, await buildReport(runs, new Date(page.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/)![0]), join(dir, 'out', 'runs.json')));
  await assert.rejects(program.parseAsync(['node', 'score', 'report', join(dir, 'nope.json')]), (e) => isScoreError(e, 'CLI_USAGE') && /nope\.json: no such file/.test(e.message));
});

test('score report end to end: simulate, then report runs.json to one HTML file; a broken file exits 2 with its code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-report-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = await score(['simulate', '--scenario', 'paper', '--out', 'o', '--no-png'], dir);
  assert.equal(sim.code, 0, sim.stderr);
  const r = await score(['report', join('o', 'runs.json'), '-o', join('o', 'r.html')], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Wrote o\/r\.html/);
  const page = readFileSync(join(dir, 'o', 'r.html'), 'utf8');
  assert.match(page, /<title>S-CORE report: scenario paper<\/title>/);
  assert.equal(page.match(/<svg[\s>]/g)?.length, 2);
  assert.match(page, /score simulate/);

  writeFileSync(join(dir, 'broken.json'), '{"kind": "score-runs", "runs": [');
  const b = await score(['report', 'broken.json', '-o', 'b.html'], dir);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /score: error SCENARIO_PARSE: broken\.json: not valid JSON/);
  writeFileSync(join(dir, 'scenario.json'), '{"name": "x", "switches": []}');
  const s = await score(['report', 'scenario.json'], dir);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /score: error CLI_USAGE: scenario\.json: not a run record: kind: expected "score-runs" or "score-run", got nothing/);
  assert.equal(existsSync(join(dir, 'b.html')) || existsSync(join(dir, 'report.html')), false);
});
