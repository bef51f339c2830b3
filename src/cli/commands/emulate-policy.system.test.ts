/**
 * `score emulate --policy` stopped from outside, as a real process: SIGTERM removes everything
 * (namespaces, OVS daemons, its `score agent` processes), and agents do not outlive a parent that
 * was killed outright (SIGKILL: their stdin pipe ends). Needs root and Open vSwitch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNetns } from '../../emulation/netns.ts';
import { cleanLeftovers } from '../../emulation/ovs.ts';
import { runDirName } from '../../emulation/names.ts';
import { systemTestGate } from '../../emulation/system-gate.ts';

const gate = systemTestGate({ root: true, tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'tc', 'ethtool', 'ping', 'nping', 'python3'] });
const sys = { skip: gate.skip, timeout: 240_000 };

const YAML = `
name: sigtest
switches: [{ id: s1 }]
hypervisors: [{ id: h1, capacity: 2 }, { id: h2, capacity: 2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: vm1, ip: 10.9.0.1, mac: "02:00:00:00:00:01", host: h1 }
  - { name: vm2, ip: 10.9.0.2, mac: "02:00:00:00:00:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 50, pps: 10, generator: nping, protocol: tcp }
`;

const ROOT = new URL('../../..', import.meta.url).pathname;

/** PIDs of processes whose command line mentions the run prefix (its agents, its OVS daemons). */
function processesOf(prefix: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmd.includes(prefix)) out.push({ pid: Number(d), cmd });
  }
  return out;
}

/** The parent PID of a process (/proc/PID/stat's 4th field, after the parenthesised name), or -1 once it is gone. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * The run's `score agent` processes: children of the command. An agent's own child between fork
 * and exec still shows the agent's command line (CI once counted 3 agents for 2 hypervisors).
 */
function agentsOf(prefix: string, command: ChildProcess): { pid: number; cmd: string }[] {
  return processesOf(prefix).filter((p) => p.cmd.includes(' agent ') && parentOf(p.pid) === command.pid);
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Whatever a test's run left: the command, every process of its prefix (what SIGKILL cannot
 * clean is `score emulate --clean`'s job, its owner being dead), its namespaces and bridges, the dir.
 */
async function removeRun(child: ChildProcess | undefined, prefix: string, dir: string): Promise<void> {
  if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (prefix !== '') {
    for (const p of processesOf(prefix)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await cleanLeftovers(new RegExp(`^${prefix}$`)).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts the experiment and resolves once every agent registered (its "run prefix" line). */
async function startExperiment(dir: string): Promise<{ child: ChildProcess; prefix: string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; output: () => string }> {
  const scenario = join(dir, 'sigtest.yaml');
  writeFileSync(scenario, YAML);
  // stderr to a file, not a pipe: the agents inherit it, and a pipe whose reader goes away would
  // end them (EPIPE) whatever the command does, hiding agents that outlive it
  const errLog = join(dir, 'stderr.log');
  const errFd = openSync(errLog, 'w');
  const child = spawn(process.execPath, [join(ROOT, 'bin/score.js'), 'emulate', '--scenario', scenario, '--policy', 'rr', '--out', join(dir, 'out')], { cwd: ROOT, stdio: ['ignore', 'pipe', errFd] });
  closeSync(errFd);
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const text = (): string => `${stdout}\n${existsSync(errLog) ? readFileSync(errLog, 'utf8') : ''}`;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  await eventually('the experiment standing (agents registered)', () => {
    if (done) throw new Error(`score emulate exited early:\n${text()}`);
    return /run prefix sc[0-9a-z]{4}/.test(stdout);
  }, 180_000);
  const prefix = /run prefix (sc[0-9a-z]{4})/.exec(stdout)?.[1] ?? '';
  return { child, prefix, exited, output: text };
}

test('SIGTERM to a running `score emulate --policy` leaves no namespace, OVS daemon or agent of its run', sys, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-sigterm-'));
  let prefix = '';
  let child: ChildProcess | undefined;
  try {
    const x = await startExperiment(dir);
    ({ prefix, child } = x);
    assert.equal(agentsOf(prefix, child).length, 2, 'one agent per hypervisor');
    assert.ok(processesOf(prefix).some((p) => p.cmd.includes('ovs-vswitchd')), 'processesOf(prefix).some((p) => p.cmd.includes(\'ovs-vswitchd\'))');
    assert.ok((await listNetns()).some((n) => n.startsWith(`${prefix}-`)), '(await listNetns()).some((n) => n.startsWith(`${prefix}-`))');
    child.kill('SIGTERM');
    const { code, signal } = await x.exited;
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), [], 'namespaces left');
    // the command waits for its agents and daemons to end before it exits: none may be left now
    assert.deepEqual(processesOf(prefix), [], 'processes of the run left');
    assert.ok(!existsSync(join(tmpdir(), runDirName(prefix))), 'run dir left');
    assert.ok(code === 143 || signal === 'SIGTERM', `exit ${String(code)} ${String(signal)}:\n${x.output()}`);
    assert.match(x.output(), /Interrupted; removed everything\./);
  } finally {
    await removeRun(child, prefix, dir);
  }
});

test('SIGTERM while the orchestration waits out a settle: everything removed, and the command exits at once, not when the settle ends', sys, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-sigterm-settle-'));
  let prefix = '';
  let child: ChildProcess | undefined;
  try {
    const x = await startExperiment(dir);
    ({ prefix, child } = x);
    const m = /controller API at (http:\/\/127\.0\.0\.1:\d+\/api\/v1) \(operator token ([^)]+)\)/.exec(x.output());
    assert.ok(m !== null, `the API address and token are printed:\n${x.output()}`);
    // the first migration done: the orchestrator now waits 8.5 s (EMULATED_SETTLE_MS) before it reads rates again
    await eventually('a migration succeeding', async () => {
      const res = await fetch(`${m[1]}/migrations`, { headers: { authorization: `Bearer ${m[2]}` } }).catch(() => undefined);
      const records = res?.ok === true ? ((await res.json()) as { status: string }[]) : [];
      return records.some((r) => r.status === 'succeeded');
    }, 120_000);
    child.kill('SIGTERM');
    let removedAt: number | undefined;
    child.stdout?.on('data', (d: Buffer) => {
      if (removedAt === undefined && d.toString().includes('Interrupted; removed everything.')) removedAt = Date.now();
    });
    await x.exited;
    const exitedAt = Date.now();
    assert.match(x.output(), /Interrupted; removed everything\./);
    assert.ok(removedAt !== undefined, 'the message was seen');
    // it lingered 20-25 s once (the settle and the rounds after it); the margin is for a loaded machine
    assert.ok(exitedAt - removedAt < 5000, `exited ${exitedAt - removedAt} ms after saying everything was removed`);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), [], 'namespaces left');
    assert.deepEqual(processesOf(prefix), [], 'processes of the run left');
  } finally {
    await removeRun(child, prefix, dir);
  }
});

test('agents of an experiment killed outright (SIGKILL) stop: their stdin pipe ended', sys, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'score-sigkill-'));
  let prefix = '';
  let child: ChildProcess | undefined;
  try {
    const x = await startExperiment(dir);
    ({ prefix, child } = x);
    assert.equal(agentsOf(prefix, child).length, 2, 'one agent per hypervisor');
    child.kill('SIGKILL');
    await x.exited;
    await eventually('the agents exiting', () => processesOf(prefix).filter((p) => p.cmd.includes(' agent ')).length === 0, 15_000);
  } finally {
    await removeRun(child, prefix, dir);
    if (prefix !== '') assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
  }
});
