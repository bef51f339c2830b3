import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from 'typebox/value';
import { Settings } from 'typebox/system';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ScoreError } from '../errors/errors.ts';
import { schemaProblems as issueProblems, type FieldProblem } from '../errors/schema-issues.ts';
import { ScenarioSchema, type ScenarioFile, type TrafficEntry } from './schema.ts';
import { parseDpid } from './dpids.ts';
import { parseBandwidth } from './bandwidth.ts';
import { buildTopology } from '../core/topology.ts';
import { learnLayers } from '../core/layers.ts';
import { DEFAULT_HYPERVISOR_CAPACITY, buildModel, macKey, type Model } from './model.ts';
import { checkTraceVms, parseTrafficTrace, type TrafficChange } from './timeline.ts';

/** A problem with a field of the file: `path` a JSON pointer into it, e.g. /vms/3/host. */
export type { FieldProblem } from '../errors/schema-issues.ts';

/** Built-in scenarios ship in <repo>/scenarios and may be named without path or extension. */
export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');

export function resolveScenarioPath(nameOrPath: string): string {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(nameOrPath, { throwIfNoEntry: false });
  } catch (e) {
    // ENOTDIR (a path through a file), EACCES, ...: not a scenario we can read
    throw new ScoreError('SCENARIO_NOT_FOUND', `scenario "${nameOrPath}" cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: nameOrPath });
  }
  if (st?.isDirectory() === true) throw new ScoreError('SCENARIO_NOT_FOUND', `scenario "${nameOrPath}" is a directory; give a scenario file in it or a built-in name (see ${SCENARIO_DIR})`, { file: nameOrPath });
  if (st !== undefined) return resolve(nameOrPath);
  for (const ext of ['.yaml', '.yml', '.json']) {
    const p = join(SCENARIO_DIR, nameOrPath + ext);
    if (/^[A-Za-z0-9_-]+$/.test(nameOrPath) && existsSync(p)) return p;
  }
  throw new ScoreError('SCENARIO_NOT_FOUND', `scenario "${nameOrPath}" is neither a file nor a built-in scenario (see ${SCENARIO_DIR})`, {
    file: nameOrPath,
  });
}

export function loadScenarioFile(nameOrPath: string): { file: string; scenario: ScenarioFile; model: Model } {
  const file = resolveScenarioPath(nameOrPath);
  const text = readFileSync(file, 'utf8');
  const scenario = parseScenario(text, file);
  return { file, scenario, model: buildModel(scenario, scenario.trace === undefined ? [] : loadTrace(scenario, file)) };
}

/** Reads and checks the scenario's trace file (relative to the scenario file): every VM it names must exist. */
function loadTrace(scenario: ScenarioFile, file: string): TrafficChange[] {
  const path = resolve(dirname(file), scenario.trace!);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScoreError('SCENARIO_INVALID', `${file}: /trace: cannot read "${path}": ${e instanceof Error ? e.message : String(e)}`, { file, trace: path }, { cause: e });
  }
  const changes = parseTrafficTrace(text, path);
  checkTraceVms(changes, scenario.vms.map((v) => v.name), path, `scenario ${scenario.name}`);
  return changes;
}

/**
 * Parses and validates scenario text. Nothing partial is returned: every schema problem is
 * reported at once (up to MAX_SCHEMA_ERRORS), then, once the schema is met, every consistency
 * problem (unknown ids, duplicates, capacity). Errors: SCENARIO_PARSE, SCENARIO_INVALID.
 */
export function parseScenario(text: string, file: string): ScenarioFile {
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError || e instanceof SyntaxError ? e.message : String(e);
    throw new ScoreError('SCENARIO_PARSE', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${msg}`, { file }, { cause: e });
  }
  // the consistency checks read the file's shape, so they run once the schema is met
  const { problems, capped } = schemaProblems(data);
  if (problems.length === 0) problems.push(...consistencyProblems(data as ScenarioFile));
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n');
    const count = capped ? `${problems.length} or more problems (the first ${problems.length})` : `${problems.length} problem(s)`;
    throw new ScoreError('SCENARIO_INVALID', `${file}: ${count}:\n${lines}`, { file, problems });
  }
  return data as ScenarioFile;
}

/**
 * How many schema errors TypeBox collects for one file. Its default (8, a guard for untrusted
 * input) hid most of a file's problems; a scenario is the operator's own file, and the setting
 * is raised only for this call (TypeBox has no per-call option).
 */
export const MAX_SCHEMA_ERRORS = 200;

function collectErrors(data: unknown): ReturnType<typeof Value.Errors> {
  const before = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: MAX_SCHEMA_ERRORS });
  try {
    return Value.Errors(ScenarioSchema, data);
  } finally {
    Settings.Set({ maxErrors: before });
  }
}

/**
 * The schema's problems, and whether TypeBox stopped collecting at MAX_SCHEMA_ERRORS. The one
 * union that is not of constants, a bandwidth, gets a message that names both of its forms.
 */
function schemaProblems(data: unknown): { problems: FieldProblem[]; capped: boolean } {
  if (Value.Check(ScenarioSchema, data)) return { problems: [], capped: false };
  const errors = collectErrors(data);
  const problems = issueProblems(errors, 'expected a number of bits/s or a string such as "10Mbps", "2.5 Mbps", "500B/s"');
  return { problems, capped: errors.length >= MAX_SCHEMA_ERRORS };
}

function consistencyProblems(s: ScenarioFile): FieldProblem[] {
  const out: FieldProblem[] = [];
  const nodes = new Map<string, 'switch' | 'hypervisor'>();
  s.switches.forEach((x, i) => {
    if (nodes.has(x.id)) out.push({ path: `/switches/${i}/id`, message: `"${x.id}" is defined twice` });
    nodes.set(x.id, 'switch');
  });
  s.hypervisors.forEach((x, i) => {
    if (nodes.has(x.id)) out.push({ path: `/hypervisors/${i}/id`, message: `"${x.id}" is defined twice` });
    nodes.set(x.id, 'hypervisor');
  });
  const dpids = new Map<bigint, string>();
  [...s.switches.map((x, i) => ({ x, path: `/switches/${i}/dpid` })), ...s.hypervisors.map((x, i) => ({ x, path: `/hypervisors/${i}/dpid` }))].forEach(({ x, path }) => {
    if (x.dpid === undefined) return;
    const d = parseDpid(x.dpid);
    if (d === 0n) out.push({ path, message: 'datapath id 0 cannot be set on a switch (Open vSwitch: "may not be all-zero")' });
    const owner = dpids.get(d);
    if (owner !== undefined) out.push({ path, message: `datapath id ${x.dpid} is already used by "${owner}"` });
    dpids.set(d, x.id);
  });
  const linkKeys = new Set<string>();
  s.links.forEach((l, i) => {
    for (const end of ['a', 'b'] as const) {
      if (!nodes.has(l[end])) out.push({ path: `/links/${i}/${end}`, message: `expected a switch or hypervisor id, got "${l[end]}"` });
    }
    if (l.a === l.b) out.push({ path: `/links/${i}`, message: `a link must join two different nodes` });
    const key = l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`;
    if (linkKeys.has(key)) out.push({ path: `/links/${i}`, message: `link ${key} is defined twice` });
    if (!finiteBandwidth(l.capacity)) out.push({ path: `/links/${i}/capacity`, message: `"${String(l.capacity).slice(0, 40)}" is too large to be a capacity` });
    linkKeys.add(key);
  });
  for (const key of Object.keys(s.weights?.links ?? {})) {
    if (!linkKeys.has(key)) out.push({ path: `/weights/links/${key}`, message: `expected a link id such as "a1-c1" (lower name first), got "${key}"` });
  }
  const vmNames = new Set<string>();
  const ips = new Set<string>();
  const macs = new Set<string>();
  const load = new Map<string, number>();
  s.vms.forEach((v, i) => {
    if (vmNames.has(v.name) || nodes.has(v.name)) out.push({ path: `/vms/${i}/name`, message: `"${v.name}" is used twice` });
    vmNames.add(v.name);
    if (ips.has(v.ip)) out.push({ path: `/vms/${i}/ip`, message: `IP ${v.ip} is used twice` });
    ips.add(v.ip);
    if (macs.has(macKey(v.mac))) out.push({ path: `/vms/${i}/mac`, message: `MAC ${v.mac} is used twice` });
    // the group bit (least significant bit of the first octet): a NIC cannot have a multicast or broadcast address
    else if (/^(00:){5}00$/.test(v.mac)) out.push({ path: `/vms/${i}/mac`, message: `MAC ${v.mac} is all zeros; a VM's NIC needs a unicast address` });
    else if ((parseInt(v.mac.slice(0, 2), 16) & 1) === 1) out.push({ path: `/vms/${i}/mac`, message: `MAC ${v.mac} is a multicast/broadcast address (first octet odd); a VM's NIC needs a unicast one` });
    macs.add(macKey(v.mac));
    if (nodes.get(v.host) !== 'hypervisor') out.push({ path: `/vms/${i}/host`, message: `expected a hypervisor id, got "${v.host}"` });
    load.set(v.host, (load.get(v.host) ?? 0) + 1);
  });
  const defaultCap = s.defaults?.hypervisorCapacity ?? DEFAULT_HYPERVISOR_CAPACITY;
  s.hypervisors.forEach((h, i) => {
    const cap = h.capacity ?? defaultCap;
    if ((load.get(h.id) ?? 0) > cap) out.push({ path: `/hypervisors/${i}`, message: `hosts ${load.get(h.id)} VMs but its capacity is ${cap}` });
  });
  s.traffic.forEach((t, i) => {
    for (const end of ['src', 'dst'] as const) {
      if (!vmNames.has(t[end])) out.push({ path: `/traffic/${i}/${end}`, message: `expected a VM name, got "${t[end]}"` });
    }
    if (t.src === t.dst) out.push({ path: `/traffic/${i}`, message: 'a VM cannot send to itself' });
    const bad = rateProblem(t);
    if (bad !== undefined) out.push({ path: `/traffic/${i}`, message: bad });
  });
  let lastAt = 0;
  (s.phases ?? []).forEach((p, i) => {
    if (p.at < lastAt) out.push({ path: `/phases/${i}/at`, message: `phase at ${p.at} s comes before the previous one (${lastAt} s): phases must be in time order` });
    lastAt = Math.max(lastAt, p.at);
    if (p.traffic === undefined && p.set === undefined && p.stop === undefined) out.push({ path: `/phases/${i}`, message: 'expected "traffic", "set" or "stop"' });
    for (const field of ['traffic', 'set', 'stop'] as const) {
      (p[field] ?? []).forEach((t, j) => {
        for (const end of ['src', 'dst'] as const) {
          if (!vmNames.has(t[end])) out.push({ path: `/phases/${i}/${field}/${j}/${end}`, message: `expected a VM name, got "${t[end]}"` });
        }
        if (t.src === t.dst) out.push({ path: `/phases/${i}/${field}/${j}`, message: 'a VM cannot send to itself' });
        if (field !== 'stop') {
          const bad = rateProblem(t);
          if (bad !== undefined) out.push({ path: `/phases/${i}/${field}/${j}`, message: bad });
        }
      });
    }
  });
  if (out.length === 0) out.push(...connectivityProblems(s));
  if (out.length === 0) out.push(...layerWeightProblems(s));
  return out;
}

/** A weight for a layer no link is in would be silently unused (link ids are checked alike). */
function layerWeightProblems(s: ScenarioFile): FieldProblem[] {
  const keys = Object.keys(s.weights?.layers ?? {});
  if (keys.length === 0) return [];
  const topology = buildTopology(
    [...s.switches.map((x) => ({ id: x.id, kind: 'switch' as const })), ...s.hypervisors.map((x) => ({ id: x.id, kind: 'hypervisor' as const }))],
    s.links.map((l) => ({ a: l.a, b: l.b, capacityBps: parseBandwidth(l.capacity) })),
  );
  const present = [...new Set(learnLayers(topology).linkLayer.values())].sort((a, b) => a - b);
  return keys.filter((k) => !present.includes(Number(k))).map((k) => ({ path: `/weights/layers/${k}`, message: `no link is in layer ${k} (this topology's link layers: ${present.join(', ')})` }));
}

/** a bandwidth the schema's pattern accepts can still overflow a double (400 digits): Infinity would poison every cost */
const finiteBandwidth = (v: number | string): boolean => Number.isFinite(parseBandwidth(v));
/**
 * One rule for a flow's rate wherever a flow is written (top-level `traffic`, a phase's `traffic`
 * and `set`): `rate`, or `packetBytes` and `pps` together, never a mix. The message, or undefined.
 */
function rateProblem(t: TrafficEntry): string | undefined {
  const byPackets = t.packetBytes !== undefined || t.pps !== undefined;
  if (t.rate === undefined && (t.packetBytes === undefined || t.pps === undefined)) return 'expected "rate", or both "packetBytes" and "pps"';
  if (t.rate !== undefined && byPackets) return 'give either "rate" or "packetBytes"+"pps", not both';
  if (!finiteRate(t)) return 'the rate is too large to be a number';
  return undefined;
}

const finiteRate = (t: TrafficEntry): boolean => (t.rate !== undefined ? finiteBandwidth(t.rate) : Number.isFinite((t.packetBytes ?? 0) * (t.pps ?? 0)));

function connectivityProblems(s: ScenarioFile): FieldProblem[] {
  const adj = new Map<string, string[]>();
  for (const l of s.links) {
    adj.set(l.a, [...(adj.get(l.a) ?? []), l.b]);
    adj.set(l.b, [...(adj.get(l.b) ?? []), l.a]);
  }
  const first = s.hypervisors[0]!.id;
  const seen = new Set([first]);
  const stack = [first];
  const hvs = new Set(s.hypervisors.map((h) => h.id));
  while (stack.length > 0) {
    const at = stack.pop()!;
    // servers do not forward: reaching a hypervisor only through another one is no path
    if (at !== first && hvs.has(at)) continue;
    for (const n of adj.get(at) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        stack.push(n);
      }
    }
  }
  return s.hypervisors
    .map((h, i) => ({ h, i }))
    .filter(({ h }) => !seen.has(h.id))
    .map(({ h, i }) => ({ path: `/hypervisors/${i}`, message: `"${h.id}" is not connected to "${first}"` }));
}
