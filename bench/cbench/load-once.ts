// One generator run from the command line, for profiling a controller by hand:
//   node --import tsx bench/cbench/load-once.ts PORT SWITCHES throughput|latency SECONDS
import { runLoad } from './generator.ts';

const [port, switches, mode, seconds] = process.argv.slice(2);
const r = await runLoad({
  host: '127.0.0.1',
  port: Number(port ?? 6653),
  switches: Number(switches ?? 16),
  mode: mode === 'latency' ? 'latency' : 'throughput',
  durationMs: Number(seconds ?? 5) * 1000,
});
console.log(JSON.stringify(r));
