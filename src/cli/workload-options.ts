import { readFileSync } from 'node:fs';
import type { Topology } from '../core/topology.ts';
import { ScoreError } from '../errors/errors.ts';
import { generateWorkload, ONOFF_DEFAULTS, PARTNER_DEFAULTS, RANDOM_DEFAULTS, WIDESPREAD_DEFAULTS, type FileText, type WorkloadModel, type WorkloadOptions as GeneratorOptions } from '../workloads/workload.ts';
import type { ScaleWorkload } from '../sim/scale.ts';

/**
 * The workload a scale run uses, as the command line describes it: a model name, or `csv` with a
 * traffic file; a placement `random`, `packed`, or a CSV file name. Files are read here (the
 * shell); the generators are pure.
 */
export interface WorkloadOptions {
  readonly model: string;
  readonly vms: number;
  /** `--vms` was given (a CSV workload refuses one that contradicts its file) */
  readonly vmsGiven?: boolean;
  readonly slots: number;
  readonly placement: string;
  readonly seed: number;
  readonly trafficFile?: string;
  /** draw per-VM CPU, memory and dirty rate (for the pre-copy migration cost) */
  readonly resources?: boolean;
  /** model parameters as `name=value` (e.g. rackLocalFraction=0.5); numbers only */
  readonly params?: readonly string[];
}

// Each model and its parameters with their defaults: the names `--param` accepts.
const PARAMS = {
  partners: PARTNER_DEFAULTS,
  onoff: ONOFF_DEFAULTS,
  widespread: WIDESPREAD_DEFAULTS,
  random: RANDOM_DEFAULTS,
  csv: { durationSec: 0 },
} as const satisfies Readonly<Record<WorkloadModel, object>>;
const MODELS = Object.keys(PARAMS) as WorkloadModel[];

/** `name=value` pairs checked against the model's own parameters, so a typo is an error, not a silent default. */
export function parseModelParams(model: string, pairs: readonly string[]): Record<string, number> {
  const known = Object.keys((PARAMS as Readonly<Record<string, object>>)[model] ?? {});
  const out: Record<string, number> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(pair);
    const value = m ? Number(m[2]) : NaN;
    if (m === null || !Number.isFinite(value)) throw new ScoreError('CLI_USAGE', `--param: expected name=number, got "${pair}"`);
    if (!known.includes(m[1]!)) throw new ScoreError('CLI_USAGE', `--param: the ${model} model has no parameter "${m[1]}"; it has ${known.join(', ')}`);
    out[m[1]!] = value;
  }
  return out;
}

function readText(file: string, what: string): FileText {
  try {
    return { text: readFileSync(file, 'utf8'), fileName: file };
  } catch (e) {
    throw new ScoreError('WORKLOAD_INVALID', `cannot read the ${what} file ${file}: ${(e as Error).message}`, { file });
  }
}

export function workloadFromOptions(topology: Topology, o: WorkloadOptions): ScaleWorkload {
  if (!(MODELS as readonly string[]).includes(o.model)) {
    throw new ScoreError('CLI_USAGE', `--workload: expected one of ${MODELS.join(', ')}, got "${o.model}"`);
  }
  if (o.model === 'csv' && o.trafficFile === undefined) throw new ScoreError('CLI_USAGE', '--workload csv needs --traffic <file.csv>');
  if (o.model !== 'csv' && o.trafficFile !== undefined) throw new ScoreError('CLI_USAGE', '--traffic is for --workload csv');
  // a misspelt --param is reported before the size, which may only be the --vms default
  const params = parseModelParams(o.model, o.params ?? []);
  if (o.model !== 'csv' && o.vms > topology.hypervisors.length * o.slots) {
    const hint = o.vmsGiven === false ? ` (--vms defaults to ${o.vms}; give --vms N with N at most ${topology.hypervisors.length * o.slots}, or more --slots)` : '';
    throw new ScoreError('CAPACITY_EXCEEDED', `${o.vms} VMs do not fit ${topology.hypervisors.length} hypervisors × ${o.slots} slots${hint}`, { vms: o.vms, slots: o.slots });
  }
  const placement = o.placement === 'random' || o.placement === 'packed' ? o.placement : 'file';
  const common = {
    vms: o.vms,
    slotsPerHypervisor: o.slots,
    seed: o.seed,
    placement,
    ...(placement === 'file' ? { placementFile: readText(o.placement, 'placement') } : {}),
    ...(o.resources === true ? { resources: true } : {}),
  } as const;
  const options: GeneratorOptions =
    o.model === 'csv'
      ? { ...common, model: 'csv', trafficFile: readText(o.trafficFile!, 'traffic'), params }
      : { ...common, model: o.model as Exclude<WorkloadModel, 'csv'>, params };
  return generateWorkload(topology, options);
}
