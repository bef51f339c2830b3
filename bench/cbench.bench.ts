/**
 * Controller capacity, measured like cbench: the same load generator (bench/cbench/generator.ts)
 * against S-CORE (`score controller`), os-ken (Debian python3-os-ken with the bench's own
 * learning-switch app, bench/cbench/osken_learning_switch.py) and ovs-testcontroller (Debian
 * openvswitch-testcontroller, C). Each controller runs as its own process on a loopback port.
 * For 16 and 256 switches: responses/s (throughput mode, 32 outstanding per switch) and round
 * trip p50/p99 (latency mode, one outstanding per switch). JSON on stdout.
 *
 *   node --import tsx bench/cbench.bench.ts [--switches 16,256] [--seconds 5] [--only score,osken,ovs]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from '../src/emulation/system-gate.ts';
import { freePort } from '../src/cluster/etcd-process.ts';
import { type LoadResult, runLoad } from './cbench/generator.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const SWITCHES = arg('switches', '16,256').split(',').map(Number);
const SECONDS = Number(arg('seconds', '5'));
const ONLY = new Set(arg('only', 'score,osken,ovs').split(','));

const otcSocket = (port: number): string => join(tmpdir(), `score-bench-otc-${port}.ctl`);

interface Peer {
  readonly name: string;
  readonly available: () => string | undefined;
  readonly start: (port: number) => ChildProcess;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const peers: Peer[] = [
  {
    name: 'score',
    available: () => undefined,
    start: (port) =>
      spawn(process.execPath, [`${ROOT}bin/score.js`, 'controller', '--port', String(port), '--host', '127.0.0.1', '--api-port', '0', '--poll-ms', '1000', '--report-ms', '3600000'], {
        stdio: 'ignore',
        env: { ...process.env, SCORE_OPERATOR_TOKEN: 'bench-op' },
      }),
  },
  {
    name: 'osken',
    available: () => (findTool('osken-manager') === undefined ? 'osken-manager not installed (Debian python3-os-ken)' : undefined),
    start: (port) =>
      spawn('osken-manager', ['--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port', String(port), `${ROOT}bench/cbench/osken_learning_switch.py`], { stdio: 'ignore' }),
  },
  {
    name: 'ovs-testcontroller',
    available: () => (findTool('ovs-testcontroller') === undefined ? 'ovs-testcontroller not installed (Debian openvswitch-testcontroller)' : undefined),
    // its control socket goes to the temp dir, not /var/run/openvswitch (which may not exist)
    start: (port) =>
      spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `--unixctl=${otcSocket(port)}`, `ptcp:${port}:127.0.0.1`, '-vconsole:off', '-vsyslog:off'], { stdio: 'ignore' }),
  },
];

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

/** CPU seconds and RSS of a process from /proc (Linux). */
async function usage(pid: number | undefined): Promise<{ cpuS: number; rssMiB: number } | null> {
  if (pid === undefined) return null;
  try {
    const { readFileSync } = await import('node:fs');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const rssPages = Number(f[21]);
    return { cpuS: ticks / 100, rssMiB: Math.round((rssPages * 4096) / 1048576) };
  } catch {
    return null;
  }
}

const results: Record<string, unknown> = {};
for (const peer of peers.filter((p) => ONLY.has(p.name) || (p.name === 'ovs-testcontroller' && ONLY.has('ovs')))) {
  const why = peer.available();
  if (why !== undefined) {
    results[peer.name] = { available: false, reason: why };
    continue;
  }
  const runs: (LoadResult & { controllerCpuS: number | null; controllerRssMiB: number | null })[] = [];
  for (const n of SWITCHES) {
    for (const mode of ['throughput', 'latency'] as const) {
      const port = await freePort();
      const child = peer.start(port);
      try {
        if (!(await listening(port, 20_000))) throw new Error(`${peer.name} did not listen on ${port}`);
        const before = await usage(child.pid);
        const r = await runLoad({ host: '127.0.0.1', port, switches: n, mode, durationMs: SECONDS * 1000 });
        const after = await usage(child.pid);
        runs.push({ ...r, controllerCpuS: before && after ? Math.round((after.cpuS - before.cpuS) * 100) / 100 : null, controllerRssMiB: after?.rssMiB ?? null });
        console.error(`# ${peer.name} ${n} switches ${mode}: ${r.responsesPerSecond} responses/s${r.latencyMs ? `, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms` : ''} (${r.connected}/${n} connected)`);
      } finally {
        child.kill('SIGKILL');
        // ovs-testcontroller's control socket outlives a SIGKILL
        if (peer.name === 'ovs-testcontroller') rmSync(otcSocket(port), { force: true });
      }
    }
  }
  results[peer.name] = { available: true, runs };
}

const rate = (name: string, n: number): number | undefined =>
  ((results[name] as { runs?: LoadResult[] } | undefined)?.runs ?? []).find((r) => r.switches === n && r.mode === 'throughput')?.responsesPerSecond;
const ratios = Object.fromEntries(
  SWITCHES.map((n) => {
    const s = rate('score', n);
    const k = rate('osken', n);
    const c = rate('ovs-testcontroller', n);
    return [
      String(n),
      {
        scoreVsOsken: s !== undefined && k ? Math.round((s / k) * 10) / 10 : null,
        scoreVsOvsTestcontroller: s !== undefined && c ? Math.round((s / c) * 100) / 100 : null,
      },
    ];
  }),
);

console.log(
  JSON.stringify({
    bench: 'cbench',
    node: process.version,
    seconds: SECONDS,
    generator: 'bench/cbench/generator.ts (one Node process; 32 outstanding per switch in throughput mode, 1 in latency mode)',
    targets: { scoreVsOsken: '>= 10', scoreVsOvsTestcontroller: '>= 0.5', p99LightLoadMs: '< 1' },
    results,
    ratios,
  }),
);
