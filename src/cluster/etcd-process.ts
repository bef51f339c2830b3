/**
 * A real etcd (Debian `etcd-server` 3.4) for tests, benchmarks and local trials: one member or a
 * three-member cluster, every member on loopback ports picked free at start, each with its own
 * data directory `<tmp>/score-etcd-<prefix>-<member>` that stop() removes (names.ts prefixes, so
 * a crashed run's leftovers are recognisable). Never a system etcd, never a non-loopback address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScoreError } from '../errors/errors.ts';
import { resolveTool } from '../emulation/exec.ts';
import { assertRunPrefix, newRunPrefix } from '../emulation/names.ts';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess;
}

export interface EtcdCluster {
  readonly prefix: string;
  readonly members: readonly EtcdMember[];
  /** client URLs of every member, for `--cluster etcd://...` and the etcd3 client */
  readonly endpoints: readonly string[];
  /** the tail of each member's log, for failure messages */
  logs(): string;
  stop(): Promise<void>;
}

/** One free TCP port on 127.0.0.1 (several at once: freePorts, so no two are the same). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `n` distinct free TCP ports on 127.0.0.1: every listener stays open until all n have a port, so
 * no two are the same (freePort called n times can be: the kernel may hand a just-closed port out
 * again, and a three-member etcd once got one peer port twice, "has duplicate url", in CI).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a !== null ? a.port : 0;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function healthy(url: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Where the members keep their data: memory (/dev/shm) where there is one. etcd fsyncs its log on
 * every write; on this project's shared, loaded machines a disk sync took 0.1-0.4 s ("leader is
 * overloaded likely from slow disk"), which delayed lease keep-alives enough that a test cluster's
 * first controller leader lost its 2 s lease while the test was still setting up. These members
 * hold a test's throwaway state only.
 */
function dataRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/**
 * Starts `size` etcd members (1 or 3) on loopback and waits until every one reports healthy.
 * @throws ScoreError EMULATION_MISSING_TOOL without etcd; EMULATION_COMMAND when a member does not
 *   become healthy within `startMs` (default 20 s; everything started is removed first)
 */
export async function startEtcd(o: { size?: 1 | 3; prefix?: string; startMs?: number } = {}): Promise<EtcdCluster> {
  const etcd = resolveTool('etcd');
  const prefix = o.prefix ?? newRunPrefix(Math.random);
  assertRunPrefix(prefix);
  const size = o.size ?? 1;
  const specs: { name: string; client: number; peer: number; dataDir: string }[] = [];
  const ports = await freePorts(2 * size);
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `m${i}`,
      client: ports[2 * i]!,
      peer: ports[2 * i + 1]!,
      dataDir: mkdtempSync(join(dataRoot(), `score-etcd-${prefix}-m${i}-`)),
    });
  }
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const logs = new Map<string, string>();
  const members: EtcdMember[] = specs.map((s) => {
    const clientUrl = `http://127.0.0.1:${s.client}`;
    const peerUrl = `http://127.0.0.1:${s.peer}`;
    const child = spawn(
      etcd,
      [
        '--name', s.name,
        '--data-dir', s.dataDir,
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initial,
        '--initial-cluster-token', `score-${prefix}`,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    logs.set(s.name, '');
    const keep = (b: Buffer): void => void logs.set(s.name, ((logs.get(s.name) ?? '') + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return { name: s.name, clientUrl, peerUrl, dataDir: s.dataDir, process: child };
  });
  const cluster: EtcdCluster = {
    prefix,
    members,
    endpoints: members.map((m) => m.clientUrl),
    logs: () => [...logs].map(([n, l]) => `--- etcd ${n}\n${l}`).join('\n'),
    async stop() {
      await Promise.all(
        members.map(
          (m) =>
            new Promise<void>((resolve) => {
              if (m.process.exitCode !== null || m.process.signalCode !== null) return resolve();
              m.process.once('exit', () => resolve());
              m.process.kill('SIGKILL');
            }),
        ),
      );
      for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
    },
  };
  const ok = await Promise.all(members.map((m) => healthy(m.clientUrl, o.startMs ?? 20_000)));
  if (ok.includes(false)) {
    const text = cluster.logs();
    await cluster.stop();
    throw new ScoreError('EMULATION_COMMAND', `etcd did not become healthy:\n${text.slice(-2000)}`, { prefix });
  }
  return cluster;
}
