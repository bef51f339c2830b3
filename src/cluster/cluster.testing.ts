// Test support for cluster system tests: controller processes, OVS controller roles, pings with
// timestamps. Real parts only (etcd, OVS, `score controller` processes, ping in namespaces).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type OvsInstance, switchControllerTarget, vsctl } from '../emulation/ovs.ts';

const BIN = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

export interface ControllerProcess {
  readonly id: string;
  readonly ofPort: number;
  readonly apiPort: number;
  readonly child: ChildProcess;
  /** stdout+stderr lines with the wall time they arrived */
  readonly lines: { at: number; text: string }[];
  exited(): boolean;
}

/** The operator token every spawned member gets (SCORE_OPERATOR_TOKEN). */
export const CLUSTER_OPERATOR_TOKEN = 'op-token-cluster-test';

function withoutShared(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { SCORE_SHARED_AGENT_TOKEN: _s, ...rest } = env;
  return rest;
}

export function spawnController(o: { id: string; ofPort: number; apiPort: number; endpoints: readonly string[]; scenario?: string; extra?: readonly string[] }): ControllerProcess {
  const cluster = `etcd://${o.endpoints.map((u) => u.replace(/^https?:\/\//, '')).join(',')}`;
  const args = [
    BIN, 'controller',
    '--port', String(o.ofPort), '--host', '127.0.0.1',
    '--api-port', String(o.apiPort),
    '--cluster', cluster, '--id', o.id,
    '--poll-ms', '500', '--report-ms', '3600000',
    ...(o.scenario === undefined ? [] : ['--scenario', o.scenario]),
    ...(o.extra ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // agents use their own credentials (in etcd); no shared agent token
    env: { ...withoutShared(process.env), SCORE_OPERATOR_TOKEN: CLUSTER_OPERATOR_TOKEN },
  });
  const lines: { at: number; text: string }[] = [];
  let exited = false;
  child.on('exit', () => (exited = true));
  const take = (b: Buffer): void => {
    const at = Date.now();
    for (const text of b.toString().split('\n')) if (text.trim() !== '') lines.push({ at, text });
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return { id: o.id, ofPort: o.ofPort, apiPort: o.apiPort, child, lines, exited: () => exited };
}

export async function killAll(cs: readonly ControllerProcess[]): Promise<void> {
  await Promise.all(
    cs.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exited()) return resolve();
          c.child.once('exit', () => resolve());
          c.child.kill('SIGKILL');
        }),
    ),
  );
}

/** Every bridge gets every controller (one vsctl transaction), reconnect backoff 1 s. */
export async function connectAll(ovs: OvsInstance, bridges: readonly string[], ofPorts: readonly number[]): Promise<void> {
  const targets = await Promise.all(ofPorts.map((p) => switchControllerTarget(ovs, `tcp:127.0.0.1:${p}`)));
  const args: string[] = [];
  bridges.forEach((b, i) => {
    const refs = targets.map((t, k) => {
      const ref = `c${i}x${k}`;
      args.push('--', `--id=@${ref}`, 'create', 'Controller', `target="${t ?? ''}"`, 'max_backoff=1000');
      return `@${ref}`;
    });
    args.push('--', 'set', 'bridge', b, `controller=${refs.join(',')}`);
  });
  await vsctl(ovs, ...args.slice(1));
}

/** Per controller OpenFlow port: how many of its Controller records OVS reports as master/slave/other and connected. */
export async function rolesByPort(ovs: OvsInstance): Promise<Map<number, { master: number; slave: number; other: number; connected: number }>> {
  const text = await vsctl(ovs, '--format=json', '--columns=target,role,is_connected', 'list', 'Controller');
  const rows = (JSON.parse(text) as { data: [string, string | [string, unknown[]], boolean][] }).data;
  const out = new Map<number, { master: number; slave: number; other: number; connected: number }>();
  for (const [target, role, connected] of rows) {
    const m = /ctl-(\d+)\.sock$/.exec(target) ?? /:(\d+)$/.exec(target);
    if (m === null) continue;
    const port = Number(m[1]);
    const e = out.get(port) ?? { master: 0, slave: 0, other: 0, connected: 0 };
    const r = typeof role === 'string' ? role : 'other';
    if (r === 'master') e.master += 1;
    else if (r === 'slave') e.slave += 1;
    else e.other += 1;
    if (connected) e.connected += 1;
    out.set(port, e);
  }
  return out;
}

export interface PingRun {
  /** reply timestamps, s (ping -D) */
  readonly replies: number[];
  stop(): Promise<void>;
  /** longest time without a reply between the first and the last reply, ms */
  maxGapMs(): number;
}

/** `ping -D -i interval` from a namespace, kept running until stop(). */
export function startPing(netns: string, ip: string, intervalS = 0.02): PingRun {
  const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-D', '-i', String(intervalS), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  const replies: number[] = [];
  let buf = '';
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/.exec(l);
      if (m !== null) replies.push(Number(m[1]));
    }
  });
  let done = false;
  child.on('exit', () => (done = true));
  return {
    replies,
    stop: () =>
      new Promise<void>((resolve) => {
        if (done) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
    maxGapMs() {
      let max = 0;
      for (let i = 1; i < replies.length; i++) max = Math.max(max, ((replies[i] as number) - (replies[i - 1] as number)) * 1000);
      return Math.round(max);
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms: number, stepMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
