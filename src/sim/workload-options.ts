import { readFileSync } from 'node:fs';
import type { Topology } from '../core/topology.ts';
import { ScoreError } from '../errors/errors.ts';
import { generateWorkload, type FileText, type WorkloadOptions as GeneratorOptions } from '../workloads/workload.ts';
import type { ScaleWorkload } from './scale.ts';

/**
 * The workload a scale run uses, as the command line describes it: a model name, or `csv` with a
 * traffic file; a placement `random`, `packed`, or a CSV file name. Files are read here (the
 * shell); the generators are pure.
 */
export interface WorkloadOptions {
  readonly model: string;
  readonly vms: number;
  readonly slots: number;
  readonly placement: string;
  readonly seed: number;
  readonly trafficFile?: string;
  /** draw per-VM CPU, memory and dirty rate (for the pre-copy migration cost) */
  readonly resources?: boolean;
}

const MODELS = ['partners', 'onoff', 'widespread', 'random', 'csv'] as const;

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
  if (o.model !== 'csv' && o.vms > topology.hypervisors.length * o.slots) {
    throw new ScoreError('CAPACITY_EXCEEDED', `${o.vms} VMs do not fit ${topology.hypervisors.length} hypervisors × ${o.slots} slots`, { vms: o.vms, slots: o.slots });
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
    o.model === 'csv' ? { ...common, model: 'csv', trafficFile: readText(o.trafficFile!, 'traffic') } : { ...common, model: o.model as Exclude<(typeof MODELS)[number], 'csv'> };
  return generateWorkload(topology, options);
}
