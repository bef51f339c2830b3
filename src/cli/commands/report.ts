import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { ScoreError } from '../../errors/errors.ts';
import type { RunRecord } from '../../sim/run.ts';
import { costChartSpec, renderSvg, utilisationChartSpec } from '../../report/charts.ts';
import { reportHtml } from '../../report/html.ts';

const EXPECTED = 'expected runs.json from score demo/simulate/emulate ({ "kind": "score-runs", "version": 1, "runs": [...] }) or one run record ({ "kind": "score-run", "version": 1, ... })';

type Check = (v: unknown, path: string) => string | undefined;

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, p) => (typeof v === 'string' ? undefined : `${p}: expected a string, got ${describe(v)}`);
const nonEmptyStr: Check = (v, p) => (typeof v === 'string' && v !== '' ? undefined : `${p}: expected a non-empty string, got ${describe(v)}`);
const numb: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${p}: expected a number, got ${describe(v)}`);
const bool: Check = (v, p) => (typeof v === 'boolean' ? undefined : `${p}: expected true or false, got ${describe(v)}`);
const oneOf = (...xs: unknown[]): Check => (v, p) => (xs.includes(v) ? undefined : `${p}: expected ${xs.map((x) => JSON.stringify(x)).join(' or ')}, got ${describe(v)}`);
const nullable = (c: Check): Check => (v, p) => (v === null ? undefined : c(v, p));
const optional = (c: Check): Check => (v, p) => (v === undefined ? undefined : c(v, p));

function obj(fields: Record<string, Check>): Check {
  return (v, p) => {
    if (!isObj(v)) return `${p}: expected an object, got ${describe(v)}`;
    for (const [k, c] of Object.entries(fields)) {
      const problem = c(v[k], `${p}.${k}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function arr(item: Check): Check {
  return (v, p) => {
    if (!Array.isArray(v)) return `${p}: expected an array, got ${describe(v)}`;
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i], `${p}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function record(value: Check): Check {
  return (v, p) => {
    if (!isObj(v)) return `${p}: expected an object, got ${describe(v)}`;
    for (const [k, x] of Object.entries(v)) {
      const problem = value(x, `${p}.${k}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

// Only what the report reads is checked; extra fields (newer writers, candidates' details) pass.
const RUN: Check = obj({
  kind: oneOf('score-run'),
  version: oneOf(1),
  source: oneOf('simulate', 'demo', 'emulate'),
  scenario: obj({ name: str, file: str }),
  policy: oneOf('round-robin', 'load-aware', 'gain-order'),
  params: obj({ migrationCost: numb, decisionMode: oneOf('first', 'best'), stepSeconds: numb, maxRounds: numb }),
  initialPlacement: record(str),
  finalPlacement: record(str),
  initialCost: numb,
  finalCost: numb,
  migrations: numb,
  rounds: numb,
  converged: bool,
  layerNames: arr(str),
  steps: arr(obj({
    step: numb, round: numb, time: numb, vm: nonEmptyStr, from: str, to: str,
    vmCostBefore: numb, vmCostAfter: numb, totalBefore: numb, totalAfter: numb, reason: str,
    // emulated runs only (src/sim/run.ts StepRecord)
    migration: optional(obj({
      source: oneOf('qemu', 'libvirt', 'wall-clock', 'simulated'), totalTimeMs: numb, downtimeMs: nullable(numb), setupTimeMs: nullable(numb),
      transferredBytes: numb, dirtyPagesRate: nullable(numb), memoryBytes: nullable(numb),
    })),
    probes: optional(obj({ sent: numb, received: numb, blackoutMs: numb })),
  })),
  timeline: arr(obj({
    step: numb, time: numb, totalCost: numb,
    layers: arr(obj({ layer: numb, activeLinks: numb, totalLinks: numb, meanUtilisation: numb, maxUtilisation: numb, loadBps: numb })),
  })),
  decisions: arr(obj({ vm: str, from: str, to: nullable(str), costBefore: numb, costAfter: numb, reason: str, round: numb })),
  // a run with traffic phases (src/sim/run.ts PhaseRecord): the report's phases table
  phases: optional(arr(obj({ phase: numb, startSec: numb, flows: numb, costAtStart: numb, costAfter: numb, migrations: numb, rounds: numb, converged: bool, firstStep: numb, fewestMigrations: optional(numb) }))),
});

/**
 * Reads the JSON text of a runs.json or of one run record. Unparseable text is SCENARIO_PARSE
 * (the code for "this file is not valid JSON/YAML"); parseable JSON of the wrong shape is
 * CLI_USAGE, since the user named the wrong file.
 */
export function parseRuns(text: string, file: string): RunRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ScoreError('SCENARIO_PARSE', `${file}: not valid JSON (${(e as Error).message}); ${EXPECTED}`, { file }, { cause: e });
  }
  const bad = (problem: string): ScoreError => new ScoreError('CLI_USAGE', `${file}: not a run record: ${problem}; ${EXPECTED}`, { file, problem });
  if (!isObj(doc)) throw bad(`the top level is ${describe(doc)}`);
  let runs: unknown[];
  if (doc.kind === 'score-runs') {
    if (doc.version !== 1) throw bad(`version: expected 1, got ${describe(doc.version)}`);
    if (!Array.isArray(doc.runs)) throw bad(`runs: expected an array, got ${describe(doc.runs)}`);
    if (doc.runs.length === 0) throw bad('runs: the list is empty');
    runs = doc.runs;
  } else if (doc.kind === 'score-run') {
    runs = [doc];
  } else {
    throw bad(`kind: expected "score-runs" or "score-run", got ${describe(doc.kind)}`);
  }
  for (let i = 0; i < runs.length; i++) {
    const problem = RUN(runs[i], doc.kind === 'score-runs' ? `runs[${i}]` : '$');
    if (problem !== undefined) throw bad(problem);
  }
  return runs as RunRecord[];
}

/** A path to runs.json, a run record, or a directory holding runs.json (score's output directories). */
export function resolveRunsPath(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ScoreError('CLI_USAGE', `${path}: no such file or directory; ${EXPECTED}`, { file: path });
  }
  return st.isDirectory() ? join(path, 'runs.json') : path;
}

export function readRuns(path: string): { file: string; runs: RunRecord[] } {
  const file = resolveRunsPath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScoreError('CLI_USAGE', `${file}: cannot read (${(e as Error).message}); ${EXPECTED}`, { file }, { cause: e });
  }
  return { file, runs: parseRuns(text, file) };
}

export async function buildReport(runs: readonly RunRecord[], generatedAt: Date, inputFile?: string): Promise<string> {
  const figures = {
    cost: await renderSvg(costChartSpec(runs)),
    utilisation: await renderSvg(utilisationChartSpec(runs)),
  };
  return reportHtml({ runs, figures, generatedAt, inputFile });
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('turn a run (runs.json, its directory, or one run record) into one self-contained HTML page with its figures and tables')
    .argument('<runs>', 'runs.json written by demo/simulate/emulate, the directory holding it, or a single run record JSON')
    .option('-o, --out <file>', 'HTML file to write (default: report.html beside the input)')
    .action(async (input: string, opts: { out?: string }) => {
      const { file, runs } = readRuns(input);
      const html = await buildReport(runs, new Date(), file);
      const out = opts.out ?? join(dirname(file), 'report.html');
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, html);
      console.log(`Wrote ${out} (${runs.length} run(s): ${runs.map((r) => r.policy).join(', ')}; scenario ${runs[0]?.scenario.name ?? ''})`);
    });
}
