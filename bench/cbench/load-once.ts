// One generator run as its own process (the bench runs it so, pinned to its own core), or from
// the command line for profiling a controller by hand. Prints the LoadResult as JSON.
//   node --import tsx bench/cbench/load-once.ts PORT SWITCHES throughput|latency|paced SECONDS [WINDOW|RATE] [--warmup SECONDS]
// (the fifth argument is the window in throughput mode, the rate in packet-ins/s in paced mode;
// --warmup: seconds of load before the measured run, default 1)
import { runLoad } from './generator.ts';

const argv = process.argv.slice(2);
const w = argv.indexOf('--warmup');
const warmupS = w >= 0 ? Number(argv[w + 1]) : undefined;
if (w >= 0) argv.splice(w, 2);
const [port, switches, mode, seconds, window] = argv;
const r = await runLoad({
  host: '127.0.0.1',
  port: Number(port ?? 6653),
  switches: Number(switches ?? 16),
  mode: mode === 'latency' || mode === 'paced' ? mode : 'throughput',
  durationMs: Number(seconds ?? 5) * 1000,
  ...(window !== undefined ? (mode === 'paced' ? { rate: Number(window) } : { window: Number(window) }) : {}),
  ...(warmupS !== undefined ? { loadWarmupMs: warmupS * 1000 } : {}),
  // on stderr, for the bench to read the controller's CPU time over exactly the measured run
  onPhase: (phase) => process.stderr.write(`cbench-phase ${phase}\n`),
});
console.log(JSON.stringify(r));
