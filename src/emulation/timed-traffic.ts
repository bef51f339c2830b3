/**
 * The emulated data centre's generators following the scenario's timeline (phases, trace): at
 * each change the running generators are stopped and the new segment's are started, so the
 * traffic in the namespaces is what `flowsAt(model.timeline, t)` says (src/scenario/timeline.ts),
 * with t = 0 when this starts. A change restarts every generator (a gap of well under a second);
 * a flow that runs on keeps its generator settings.
 */
import type { TrafficEntry } from '../scenario/schema.ts';
import type { Model } from '../scenario/model.ts';
import { trafficRateBytes } from '../scenario/model.ts';
import type { DataCentre } from './datacentre.ts';
import { startTraffic, type FlowPlan, type Generator, type TrafficHandle, type TrafficOptions } from './traffic.ts';

export interface EntrySegment {
  readonly startSec: number;
  readonly entries: readonly TrafficEntry[];
}

/**
 * The timeline as generator entries. Pure. A flow written in the scenario (traffic or a phase)
 * with the same rate keeps that entry (nping packet shape, protocol); any other flow (a trace
 * line, a summed duplicate) becomes an iperf3 entry at its rate.
 */
export function entrySegments(model: Model): EntrySegment[] {
  const s = model.scenario;
  const written = [...s.traffic, ...(s.phases ?? []).flatMap((p) => [...(p.traffic ?? []), ...(p.set ?? [])])];
  const template = new Map<string, TrafficEntry>();
  for (const t of written) template.set(`${t.src}>${t.dst}>${trafficRateBytes(t)}`, t);
  return model.timeline.segments.map((seg) => ({
    startSec: seg.startSec,
    entries: seg.flows.map((f) => template.get(`${f.src}>${f.dst}>${f.rate}`) ?? { src: f.src, dst: f.dst, rate: f.rate * 8 }),
  }));
}

export interface TimedTrafficHandle extends TrafficHandle {
  /** index of the segment whose generators run now */
  segment(): number;
}

/** Starts segment 0's generators now and switches at each later segment's start (real time). */
export async function startTimedTraffic(dc: DataCentre, opts: Omit<TrafficOptions, 'entries' | 'only'> & { onSegment?: (index: number, at: number) => void; onError?: (e: unknown) => void } = {}): Promise<TimedTrafficHandle> {
  const segments = entrySegments(dc.model);
  const t0 = Date.now();
  let index = 0;
  let current: TrafficHandle = await startTraffic(dc, { ...opts, entries: segments[0]!.entries });
  let stopped = false;
  let switching: Promise<void> = Promise.resolve();
  const timers = segments.slice(1).map((seg, i) =>
    setTimeout(() => {
      switching = switching.then(async () => {
        if (stopped) return;
        await current.stop();
        if (stopped) return;
        try {
          current = await startTraffic(dc, { ...opts, entries: seg.entries });
          index = i + 1;
          opts.onSegment?.(index, Date.now() - t0);
        } catch (e) {
          opts.onError?.(e);
        }
      });
    }, Math.max(0, seg.startSec * 1000 - (Date.now() - t0))),
  );
  const stop = async (): Promise<void> => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    await switching;
    await current.stop();
  };
  dc.onStop(stop);
  return {
    get flows(): readonly FlowPlan[] {
      return current.flows;
    },
    get generators(): readonly Generator[] {
      return current.generators;
    },
    segment: () => index,
    stop,
  };
}
