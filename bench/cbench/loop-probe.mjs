// Preloaded into a Node controller by bench/cbench.bench.ts (`node --import loop-probe.mjs ...`):
// how late its event loop runs (perf_hooks.monitorEventLoopDelay, sampled every 1 ms) over the
// measured run: time it spends in one piece of work (a burst of probes, a collection) that every
// packet-in arriving meanwhile waits behind. On each SIGUSR2 it writes {p50, p99, max, mean} in ms of the
// delays since the previous SIGUSR2 to the file named by SCORE_LOOP_PROBE_FILE, then starts over:
// the bench signals at the start of the measured run (discarded) and at its end. SIGUSR1 is left
// alone (Node's inspector). Bench-only: nothing in src/ loads it.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';

const file = process.env.SCORE_LOOP_PROBE_FILE;
if (file !== undefined && file !== '') {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  let n = 0;
  process.on('SIGUSR2', () => {
    n += 1;
    writeFileSync(file, JSON.stringify({ signal: n, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count }));
    h.reset();
  });
}
