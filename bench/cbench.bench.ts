/**
 * Controller capacity, measured like cbench: the same load generator (bench/cbench/cbench-gen.c,
 * or bench/cbench/generator.ts with `--generator node`) against S-CORE (`score controller`), os-ken (Debian python3-os-ken with the bench's own
 * learning-switch app, bench/cbench/osken_learning_switch.py), ovs-testcontroller (Debian
 * openvswitch-testcontroller, C) and `null` (bench/cbench/null-controller.ts: a Node responder
 * doing nothing but answer, the ceiling of a Node controller under this generator). The
 * generator and each controller run as their own processes on loopback; with two or more cores
 * the generator is pinned to core 0 and the controller to core 1 (taskset), the same for all.
 * For 16 and 256 switches: responses/s (throughput mode, 32 outstanding per switch), round
 * trip p50/p99 in cbench's latency mode (one outstanding per switch, the next sent on the answer:
 * a closed loop that runs the controller flat out) and at light load (paced mode: `--light-rate`
 * packet-ins/s in all, default 1,000, sent on a timer whatever the answers do). `--rounds N`
 * repeats everything, the controllers taking turns within each point, and reports medians and
 * per-round ratios. Every controller gets the same warm-up before each measured run: `--warmup`
 * seconds (default 3) of the same load, unmeasured, after the handshakes and the destinations'
 * announcements, so tables, caches and the JIT (or the interpreter's caches) reach a steady state
 * before counting starts. Every run records the machine's 1-minute load average beside it.
 * `--baseline DIR` adds `score-base`: `DIR/bin/score.js` (another checkout of S-CORE, e.g. the
 * parent commit), run alike, for a before/after in the same conditions. Paced mode runs the
 * generator and the controller at `nice -n -10` (`--priority none`: not). The generator reports its
 * own event-loop delay and every Node controller (bench/cbench/loop-probe.mjs, preloaded) its own,
 * over the measured run. JSON on stdout.
 *
 *   node --import tsx bench/cbench.bench.ts [--switches 16,256] [--seconds 5] [--rounds 1]
 *     [--warmup 3] [--only score,osken,ovs,null] [--modes throughput,latency,paced]
 *     [--light-rate 1000] [--pin auto|none] [--priority paced|none] [--baseline DIR]
 *     [--generator c|node] [--rt paced] [--dump DIR] [--node-args "NODE FLAGS"]
 *
 * `--generator c` (the default) drives the load with bench/cbench/cbench-gen.c, built with `cc -O2`
 * for the run; `--generator node` with bench/cbench/generator.ts. The C generator is the default
 * because it is the finer instrument: at light load its own wake-up lateness is tens of
 * microseconds where the Node generator's event loop ran milliseconds late (docs/cluster.md).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism, tmpdir } from 'node:os';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from '../src/emulation/system-gate.ts';
import { freePort } from '../src/cluster/etcd-process.ts';
import type { LoadResult } from './cbench/generator.ts';
import { median } from './support.ts';
import { buildCGenerator } from './cbench/c-generator.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const SWITCHES = arg('switches', '16,256').split(',').map(Number);
const SECONDS = Number(arg('seconds', '5'));
const ROUNDS = Number(arg('rounds', '1'));
const WARMUP = Number(arg('warmup', '3'));
const BASELINE = arg('baseline', '');
const ONLY = new Set(arg('only', `score,osken,ovs,null${BASELINE === '' ? '' : ',score-base'}`).split(',').map((n) => (n === 'ovs' ? 'ovs-testcontroller' : n)));
const MODES = arg('modes', 'throughput,latency,paced').split(',') as ('throughput' | 'latency' | 'paced')[];
const LIGHT_RATE = Number(arg('light-rate', '1000'));
/**
 * `--node-args "--cpu-prof --cpu-prof-dir=DIR"`: extra Node flags for `score` (this checkout's
 * controller; not `score-base`, so one run compares the flags with the same code, round by round).
 * NODE_OPTIONS refuses most V8 flags (--cpu-prof, --single-threaded-gc).
 */
const NODE_ARGS = arg('node-args', '').split(' ').filter((a) => a !== '');
/**
 * `c`: bench/cbench/cbench-gen.c, compiled with `cc -O2` into a temporary directory for this run
 * (removed at exit); `node`: bench/cbench/generator.ts. Same load, same handshake answers, same
 * JSON; the C one times a round trip without an event loop of its own in the way.
 */
const GENERATOR = arg('generator', 'c');
if (GENERATOR !== 'c' && GENERATOR !== 'node') throw new Error(`--generator must be c or node, not ${GENERATOR}`);
const cGen = GENERATOR === 'c' ? buildCGenerator() : undefined;
/** `--dump DIR` (C generator): every measured round trip of each run into DIR/NAME-SWITCHES-MODE-rROUND.txt (cbench-gen.c --dump) */
const DUMP = arg('dump', '');
process.on('exit', () => cGen?.remove());
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
/** generator on core 0, controller on core 1 */
const PIN = arg('pin', 'auto') !== 'none' && availableParallelism() >= 2 && findTool('taskset') !== undefined;
/**
 * Modes whose generator and controller run at a raised priority (`nice -n -10`): on a shared
 * machine a woken process otherwise waits behind whatever else holds its core, for milliseconds,
 * and that wait, not the controller, was much of the light-load tail (the null responder's p99
 * 2.6-99 ms). Default `paced` only: light load uses a fifth of a core, so it takes little from
 * others. (A real-time class, chrt -f, was tried and is unusable here: tsx's loader thread never
 * ran beside a SCHED_FIFO main thread waiting for it on the same core, which then spun.)
 */
const REALTIME = new Set(arg('priority', 'paced').split(',').filter((m) => m !== 'none' && m !== ''));
const RT = findTool('nice') !== undefined;
/**
 * Node flags of the S-CORE controllers (`score` and `score-base`) in an `--rt` mode: the collector on
 * the real-time main thread itself. V8's helper threads (concurrent marking, parallel scavenge) stay
 * in the normal class on the controller's one pinned core, behind whatever else runs there, and a
 * main thread waiting for them stalled 21-46 ms in 7 of 15 paced rounds at 256 switches
 * (event-loop delay max; p99 of the round trips 1.7-4.6 ms in those rounds); with
 * `--single-threaded-gc` no round stalled more than 6.3 ms (7 December, docs/cluster.md run 12b).
 * One pinned core gains nothing from helper threads; throughput at 16 switches was the same.
 * `--max-semi-space-size=1` (MiB): a young generation of 1 MiB, not V8's up to 16. What held the
 * loop after that was every scavenge, 3.5-6.5 ms each at 256 switches, 1.4-2.2 a second; at light
 * load the time a scavenge takes follows what survives it, i.e. the new flows' state made since
 * the last one, so a sixteenth of the young generation is a sixteenth of the wait: 0.8-1.2 ms
 * each, ~23 a second (docs/cluster.md run 13; the same code with 16 MiB in the same run: p99 under
 * 1 ms in 3 of 5 rounds, with 1 MiB in 5 of 5). It costs CPU (more scavenges, each with its fixed
 * part: the throughput modes, which do not run with these flags, were 0.90-1.00x with it at 16
 * switches), and more is promoted, so major collections come every few seconds once the old
 * generation is large, holding the loop 10-19 ms each: the p99 gains, the worst case does not.
 */
const RT_NODE_ARGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=1'];
/**
 * Modes (`--rt paced`; default none) whose generator and controller run in the real-time
 * round-robin class (SCHED_RR, priority 20): the C generator from its start (`chrt -r 20`), the
 * controller's main thread from the moment it listens (`chrt -r -p 20 PID`), so its start-up
 * (module loading, where tsx's loader thread once starved beside a SCHED_FIFO main thread) runs in
 * the normal class. The main thread only: with every thread of a Node process real-time (`chrt
 * -a`), a helper thread (V8's concurrent GC, tsx's loader) holding the one pinned core ran out its
 * 100 ms round-robin slice while the main thread waited (the null responder's p99 50-83 ms, loop
 * delay max 100-120 ms, 6 December 14:36-14:40); left in the normal class, helpers run whenever
 * the main thread sleeps.
 * A woken real-time process preempts the other users' work on its core at once: the round trips
 * are then the controller's own, not the wait for a core on a machine shared by half a dozen
 * people. Light load uses a fifth of a core at most, and the kernel leaves others 5% of each
 * core whatever happens (sched_rt_runtime_us). Needs root and --generator c.
 */
const RR = new Set(arg('rt', 'none').split(',').filter((m) => m !== 'none' && m !== ''));
if (RR.size > 0 && (findTool('chrt') === undefined || process.getuid?.() !== 0)) throw new Error('--rt needs chrt (util-linux) and root');
if (RR.size > 0 && GENERATOR !== 'c') throw new Error('--rt needs --generator c (a Node generator started real-time can starve its loader thread)');
const RR_PRIORITY = '20';

const otcSocket = (port: number): string => join(tmpdir(), `score-bench-otc-${port}.ctl`);

interface Peer {
  readonly name: string;
  readonly available: () => string | undefined;
  readonly start: (port: number, rt: boolean) => ChildProcess;
  /** a Node process with bench/cbench/loop-probe.mjs preloaded (SIGUSR2 would kill the others) */
  readonly loopProbe?: boolean;
}

/** `cmd args` pinned to one core when PIN, at a raised priority when `rt` (both exec, so the pid is the command's). */
function wrapped(core: number, rt: boolean, cmd: string, args: readonly string[]): [string, string[]] {
  const inner: [string, string[]] = rt && RT ? ['nice', ['-n', '-10', cmd, ...args]] : [cmd, [...args]];
  return PIN ? ['taskset', ['-c', String(core), inner[0], ...inner[1]]] : inner;
}

function pinned(core: number, rt: boolean, cmd: string, args: readonly string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const [c, a] = wrapped(core, rt, cmd, args);
  return spawn(c, a, options);
}

/** Node controllers report their event-loop delay over the measured run (bench/cbench/loop-probe.mjs) into this file. */
const loopFile = (port: number): string => join(tmpdir(), `score-bench-loop-${port}.json`);
const LOOP_PROBE = fileURLToPath(new URL('./cbench/loop-probe.mjs', import.meta.url));

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** `score controller` of the checkout at `root` */
const scoreController = (root: string, nodeArgs: readonly string[]) => (port: number, rt: boolean): ChildProcess =>
  pinned(1, rt, process.execPath, [...(rt ? RT_NODE_ARGS : []), ...nodeArgs, '--import', LOOP_PROBE, join(root, 'bin/score.js'), 'controller', '--port', String(port), '--host', '127.0.0.1', '--api-port', '0', '--poll-ms', '1000', '--report-ms', '3600000'], {
    stdio: 'ignore',
    env: { ...process.env, SCORE_OPERATOR_TOKEN: 'bench-op', SCORE_LOOP_PROBE_FILE: loopFile(port) },
  });
const peers: Peer[] = [
  { name: 'score', available: () => undefined, start: scoreController(ROOT, NODE_ARGS), loopProbe: true },
  {
    name: 'score-base',
    available: () => (BASELINE === '' ? 'no --baseline DIR given' : existsSync(join(BASELINE, 'bin/score.js')) ? undefined : `no bin/score.js in ${BASELINE}`),
    start: scoreController(BASELINE, []),
    loopProbe: true,
  },
  {
    name: 'osken',
    available: () => (findTool('osken-manager') === undefined ? 'osken-manager not installed (Debian python3-os-ken)' : undefined),
    start: (port, rt) =>
      pinned(1, rt, 'osken-manager', ['--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port', String(port), `${ROOT}bench/cbench/osken_learning_switch.py`], { stdio: 'ignore' }),
  },
  {
    name: 'ovs-testcontroller',
    available: () => (findTool('ovs-testcontroller') === undefined ? 'ovs-testcontroller not installed (Debian openvswitch-testcontroller)' : undefined),
    // its control socket goes to the temp dir, not /var/run/openvswitch (which may not exist)
    start: (port, rt) =>
      pinned(1, rt, 'ovs-testcontroller', ['-O', 'OpenFlow13', `--unixctl=${otcSocket(port)}`, `ptcp:${port}:127.0.0.1`, '-vconsole:off', '-vsyslog:off'], { stdio: 'ignore' }),
  },
  {
    name: 'null',
    available: () => undefined,
    loopProbe: true,
    start: (port, rt) =>
      pinned(1, rt, process.execPath, ['--import', LOOP_PROBE, '--import', 'tsx', `${ROOT}bench/cbench/null-controller.ts`, String(port)], {
        stdio: 'ignore',
        cwd: ROOT,
        env: { ...process.env, SCORE_LOOP_PROBE_FILE: loopFile(port) },
      }),
  },
];

/**
 * The generator as its own process (the C one, or bench/cbench/load-once.ts), pinned to core 0 when PIN.
 * `onPhase` runs when its measured run starts and ends.
 */
function generate(port: number, switches: number, mode: 'throughput' | 'latency' | 'paced', onPhase: (phase: string) => void, dumpName = ''): Promise<LoadResult> {
  const common = [String(port), String(switches), mode, String(SECONDS), ...(mode === 'paced' ? [String(LIGHT_RATE)] : []), '--warmup', String(WARMUP)];
  if (cGen !== undefined && DUMP !== '' && dumpName !== '') common.push('--dump', join(DUMP, `${dumpName}.txt`));
  const [cmd, argv] =
    cGen !== undefined
      ? RR.has(mode)
        ? wrapped(0, false, 'chrt', ['-r', RR_PRIORITY, cGen.path, ...common])
        : wrapped(0, REALTIME.has(mode), cGen.path, common)
      : wrapped(0, REALTIME.has(mode), process.execPath, ['--import', 'tsx', `${ROOT}bench/cbench/load-once.ts`, ...common]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 60) * 1000);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      for (let i = err.indexOf('\n'); i >= 0; i = err.indexOf('\n')) {
        const line = err.slice(0, i);
        err = err.slice(i + 1);
        const m = /^cbench-phase (\w+)$/.exec(line);
        if (m) onPhase(m[1] as string);
        else if (line.trim() !== '') console.error(`# generator: ${line}`);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`generator exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() as string) as LoadResult);
    });
  });
}

async function listening(port: number, ms: number): Promise<boolean> {
  const { createConnection } = await import('node:net');
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** CPU seconds and RSS of a process from /proc (Linux); for a taskset wrapper, the process it became. */
function usageSync(pid: number | undefined): { cpuS: number; rssMiB: number } | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const rssPages = Number(f[21]);
    return { cpuS: ticks / 100, rssMiB: Math.round((rssPages * 4096) / 1048576) };
  } catch {
    return null;
  }
}

/** the 1-minute load average (runnable and waiting processes): how busy the shared machine was */
function loadAverage(): number | null {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

/** what the controller's loop probe wrote at the end of the measured run (its second signal) */
async function controllerLoopDelay(port: number): Promise<{ p50: number; p99: number; max: number } | null> {
  for (let i = 0; i < 40; i++) {
    try {
      const r = JSON.parse(readFileSync(loopFile(port), 'utf8')) as { signal: number; p50: number; p99: number; max: number };
      if (r.signal >= 2) return { p50: r.p50, p99: r.p99, max: r.max };
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

type Run = LoadResult & { controllerLoopDelayMs: { p50: number; p99: number; max: number } | null; round: number; controllerCpu: number | null; responsesPerControllerCpuS: number | null; controllerRssMiB: number | null; loadAverage: { start: number | null; end: number | null } };
const runs = new Map<string, Run[]>();
const unavailable: Record<string, string> = {};
const chosen = peers.filter((p) => ONLY.has(p.name));
for (const p of chosen) {
  const why = p.available();
  if (why !== undefined) unavailable[p.name] = why;
  else runs.set(p.name, []);
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const n of SWITCHES) {
    for (const mode of MODES) {
      for (const peer of chosen.filter((p) => runs.has(p.name))) {
        const port = await freePort();
        const child = peer.start(port, REALTIME.has(mode));
        rmSync(loopFile(port), { force: true });
        try {
          if (!(await listening(port, 20_000))) throw new Error(`${peer.name} did not listen on ${port}`);
          if (RR.has(mode) && child.pid !== undefined) {
            const r = spawnSync('chrt', ['-r', '-p', RR_PRIORITY, String(child.pid)], { encoding: 'utf8' });
            if (r.status !== 0) throw new Error(`chrt could not raise ${peer.name} (pid ${child.pid}): ${r.stderr}`);
          }
          // the controller's CPU time over the measured run only (not handshakes or warm-up)
          const marks = new Map<string, { cpuS: number; rssMiB: number } | null>();
          const loads = new Map<string, number | null>();
          const r = await generate(port, n, mode, (phase) => {
            marks.set(phase, usageSync(child.pid));
            loads.set(phase, loadAverage());
            // a Node controller's loop probe: reset at the start, written at the end
            if (peer.loopProbe === true && child.pid !== undefined) {
              try {
                process.kill(child.pid, 'SIGUSR2');
              } catch {
                // gone already: no figure
              }
            }
          }, `${peer.name}-${n}-${mode}-r${round}`);
          const loopDelay = peer.loopProbe === true ? await controllerLoopDelay(port) : null;
          const before = marks.get('start');
          const after = marks.get('end');
          const cpuS = before && after ? after.cpuS - before.cpuS : null;
          const cpu = cpuS === null ? null : Math.round((cpuS / (r.durationMs / 1000)) * 100) / 100;
          // responses per CPU-second of the controller: what it costs, whatever else the machine runs
          const perCpuS = cpuS ? Math.round(r.answered / cpuS) : null;
          const loadAvg = { start: loads.get('start') ?? null, end: loads.get('end') ?? null };
          runs.get(peer.name)?.push({ ...r, round, controllerCpu: cpu, responsesPerControllerCpuS: perCpuS, controllerRssMiB: after?.rssMiB ?? null, loadAverage: loadAvg, controllerLoopDelayMs: loopDelay });
          console.error(
            `# round ${round} ${peer.name} ${n} switches ${mode}: ${r.responsesPerSecond} responses/s${r.latencyMs ? `, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms` : ''} (${r.connected}/${n} connected; generator ${r.generatorCpu} cores, controller ${cpu} cores, ${perCpuS} per controller CPU-s; load average ${loadAvg.start} -> ${loadAvg.end}; event-loop delay p99 generator ${r.generatorLoopDelayMs.p99} ms${loopDelay ? `, controller ${loopDelay.p99} ms (max ${loopDelay.max})` : ''})`,
          );
        } finally {
          // with --node-args (a profile, say) a Node controller is asked to stop so that it writes its files
          if (NODE_ARGS.length > 0 && peer.name === 'score' && child.exitCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
          }
          child.kill('SIGKILL');
          // ovs-testcontroller's control socket outlives a SIGKILL
          if (peer.name === 'ovs-testcontroller') rmSync(otcSocket(port), { force: true });
          rmSync(loopFile(port), { force: true });
        }
      }
    }
  }
}

const pick = (name: string, n: number, mode: string): Run[] => (runs.get(name) ?? []).filter((r) => r.switches === n && r.mode === mode);
const round2 = (x: number): number => Math.round(x * 100) / 100;
const summary = Object.fromEntries(
  [...runs.keys()].map((name) => [
    name,
    Object.fromEntries(
      SWITCHES.map((n) => {
        const t = pick(name, n, 'throughput');
        const l = pick(name, n, 'latency').filter((r) => r.latencyMs !== null);
        const p = pick(name, n, 'paced').filter((r) => r.latencyMs !== null);
        const all = [...t, ...l, ...p];
        const loads = all.map((r) => r.loadAverage.end).filter((x): x is number => x !== null);
        return [
          String(n),
          {
            connected: all.length ? Math.min(...all.map((r) => r.connected)) : null,
            responsesPerSecond: t.length ? Math.round(median(t.map((r) => r.responsesPerSecond))) : null,
            latencyModeResponsesPerSecond: l.length ? Math.round(median(l.map((r) => r.responsesPerSecond))) : null,
            /** cbench's latency mode (closed loop, one outstanding per switch: the controller flat out) */
            p50Ms: l.length ? round2(median(l.map((r) => r.latencyMs?.p50 ?? NaN))) : null,
            p99Ms: l.length ? round2(median(l.map((r) => r.latencyMs?.p99 ?? NaN))) : null,
            p99MsPerRound: l.length ? l.map((r) => r.latencyMs?.p99 ?? NaN) : null,
            /** light load: paced mode, LIGHT_RATE packet-ins/s in all */
            lightLoad: p.length
              ? {
                  ratePerSecond: LIGHT_RATE,
                  p50Ms: round2(median(p.map((r) => r.latencyMs?.p50 ?? NaN))),
                  p99Ms: round2(median(p.map((r) => r.latencyMs?.p99 ?? NaN))),
                  p99MsPerRound: p.map((r) => r.latencyMs?.p99 ?? NaN),
                  maxMsPerRound: p.map((r) => r.latencyMs?.max ?? NaN),
                  controllerCpu: round2(median(p.map((r) => r.controllerCpu ?? NaN))),
                  /** event-loop delay p99 (ms) over the measured run: the generator's, and a Node controller's (null otherwise) */
                  generatorLoopDelayP99Ms: round2(median(p.map((r) => r.generatorLoopDelayMs.p99))),
                  controllerLoopDelayP99Ms: p.every((r) => r.controllerLoopDelayMs !== null) ? round2(median(p.map((r) => r.controllerLoopDelayMs?.p99 ?? NaN))) : null,
                  raisedPriority: RR.has('paced') ? `SCHED_RR ${RR_PRIORITY}` : REALTIME.has('paced') && RT ? 'nice -n -10' : false,
                }
              : null,
            generatorCpu: t.length ? round2(median(t.map((r) => r.generatorCpu))) : null,
            controllerCpu: t.length ? round2(median(t.map((r) => r.controllerCpu ?? NaN))) : null,
            responsesPerControllerCpuS: t.length ? Math.round(median(t.map((r) => r.responsesPerControllerCpuS ?? NaN))) : null,
            /** 1-minute load average at the end of this controller's runs: median, lowest, highest */
            loadAverage: loads.length ? { median: round2(median(loads)), min: Math.min(...loads), max: Math.max(...loads) } : null,
          },
        ];
      }),
    ),
  ]),
);
/**
 * score / other, per round (same round, same point) and the median of those: in responses/s,
 * and in responses per controller CPU-second (the cost per answer, less exposed to how much of
 * the machine each process got)
 */
const ratio = (other: string, n: number, of: (r: Run) => number | null = (r) => r.responsesPerSecond): { perRound: number[]; median: number | null } => {
  const perRound: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const s = pick('score', n, 'throughput').find((r) => r.round === round);
    const o = pick(other, n, 'throughput').find((r) => r.round === round);
    const a = s ? of(s) : null;
    const b = o ? of(o) : null;
    if (a !== null && b) perRound.push(round2(a / b));
  }
  return { perRound, median: perRound.length ? round2(median(perRound)) : null };
};
const perCpuRatio = (other: string, n: number): { perRound: number[]; median: number | null } => ratio(other, n, (r) => r.responsesPerControllerCpuS);
const ratios = Object.fromEntries(
  SWITCHES.map((n) => [
    String(n),
    {
      scoreVsOsken: ratio('osken', n),
      scoreVsOvsTestcontroller: ratio('ovs-testcontroller', n),
      scoreVsNull: ratio('null', n),
      ...(runs.has('score-base') ? { scoreVsScoreBase: ratio('score-base', n) } : {}),
      perControllerCpuS: {
        scoreVsOsken: perCpuRatio('osken', n),
        scoreVsOvsTestcontroller: perCpuRatio('ovs-testcontroller', n),
        scoreVsNull: perCpuRatio('null', n),
        ...(runs.has('score-base') ? { scoreVsScoreBase: perCpuRatio('score-base', n) } : {}),
      },
    },
  ]),
);

console.log(
  JSON.stringify({
    bench: 'cbench',
    node: process.version,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    rounds: ROUNDS,
    ...(BASELINE === '' ? {} : { baseline: BASELINE }),
    generatorKind: GENERATOR,
    pinned: PIN ? 'generator on core 0, controller on core 1 (taskset)' : false,
    raisedPriorityModes: [...(RT ? [...REALTIME].filter((m) => !RR.has(m)).map((m) => `${m} (nice -n -10)`) : []), ...[...RR].map((m) => `${m} (SCHED_RR ${RR_PRIORITY}: chrt)`)],
    generator: `${cGen !== undefined ? 'bench/cbench/cbench-gen.c (C, epoll, CLOCK_MONOTONIC, paced on a 1 ms timerfd; cc -O2)' : 'bench/cbench/generator.ts (its own Node process; raw-byte fast path)'}; 32 outstanding per switch in throughput mode, 1 in latency mode, ${LIGHT_RATE} packet-ins/s in all in paced mode`,
    modes: MODES,
    lightRatePerSecond: LIGHT_RATE,
    targets: { scoreVsOsken: '>= 10', scoreVsOvsTestcontroller: '>= 0.5', p99LightLoadMs: '< 1 (paced mode)' },
    unavailable,
    summary,
    ratios,
    runs: Object.fromEntries(runs),
  }),
);
