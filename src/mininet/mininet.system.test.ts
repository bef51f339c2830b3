// Mininet as a client (issue 10): Mininet 2.3's own topologies against `score controller`, with
// user-space OVS switches (an isolated instance, root-ovs.ts) and silent hosts (IPv6 off). The
// shapes are Mininet's (linear, tree, torus with loops, a single switch with 16 hosts); the
// driver (driver.py, Mininet's Python API) reports each step and waits while this side checks
// what the controller believes at that moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { systemTestGate } from '../emulation/system-gate.ts';
import { startController, type RunningController } from '../cli/commands/controller.ts';
import { links } from '../controller/discovery.ts';
import { cleanMininetRun, startRootOvs, stopRootOvs, type RootOvs } from './root-ovs.ts';

const gate = systemTestGate({ root: true, tools: ['mn', 'mnexec', 'ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', '/usr/bin/python3'] });
const DRIVER = fileURLToPath(new URL('./driver.py', import.meta.url));
const LOCAL = 0xfffffffe;

type Line = Record<string, unknown> & { step: string };

/**
 * Runs the driver on one topology; `check` sees each step's line while the network stands still.
 * Returns every line. Whatever happens, the driver is stopped (by pid) before this returns.
 */
async function mininet(ovs: RootOvs, ctl: RunningController, topo: string, steps: string[], check: (l: Line) => void | Promise<void>): Promise<Line[]> {
  const child = spawn('/usr/bin/python3', [DRIVER, ovs.prefix, String(ctl.port), topo, ...steps], {
    env: { ...process.env, ...ovs.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: Line[] = [];
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  try {
    for await (const text of createInterface({ input: child.stdout })) {
      const l = JSON.parse(text) as Line;
      lines.push(l);
      if (l.step === 'down') break;
      await check(l);
      child.stdin.write('\n');
    }
  } catch (e) {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    // Mininet had no chance to clean up: the next topology must not meet its interfaces
    await cleanMininetRun(ovs);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const code = await new Promise<number | null>((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
  if (code !== 0) await cleanMininetRun(ovs);
  assert.equal(code, 0, `driver ${topo} failed:\n${stderr.slice(-3000)}`);
  return lines;
}

function hostsOn(ctl: RunningController, port: number): string[] {
  return [...ctl.runtime.controller.hosts.byMac.values()].filter((h) => h.at.port === port).map((h) => h.mac);
}

test('Mininet linear, tree, torus and single,16: pingall 0% with silent hosts, moved cable re-found within 2 s, forged LLDP ignored, link down rerouted, LOCAL never a host', { skip: gate.skip, timeout: 900_000 }, async (t) => {
  const lines: string[] = [];
  const ctl = await startController({ port: 0, host: '127.0.0.1', apiPort: 0, pollMs: 1000, reportMs: 1_000_000, out: (l) => lines.push(l) });
  const ovs = await startRootOvs();
  try {
    const c = ctl.runtime.controller;
    const linksOf = (): number => links(c.disc).length;

    await t.test('linear,3: pingall, LOCAL, then the issue\'s cable move', async () => {
      const seen = await mininet(ovs, ctl, 'linear,3', ['pingall', 'local', 'move'], (l) => {
        if (l.step === 'up') assert.equal(c.disc.switches.size, 3);
        if (l.step === 'pingall') assert.equal(l.loss, 0, JSON.stringify(l));
        if (l.step === 'local') {
          assert.equal(l.loss, 0);
          assert.deepEqual(hostsOn(ctl, LOCAL), [], 'nobody at LOCAL');
          assert.ok(c.reservedPortFrames > 0, 'the frame from LOCAL reached the controller and was dropped');
          assert.ok(!lines.some((x) => x.includes(':4294967294')), 'LOCAL never named in the log');
        }
        if (l.step === 'move') {
          assert.ok(typeof l.h1 === 'number' && l.h1 <= 2.5, `h1 reached the moved h3 after ${String(l.h1)} s`);
          assert.ok(typeof l.h2 === 'number' && l.h2 <= 2.5, `h2 reached the moved h3 after ${String(l.h2)} s`);
          const h3 = c.hosts.byMac.get(String(l.mac));
          assert.deepEqual(h3?.at, { dpid: BigInt(l.to as number), port: 10 }, 'the controller places h3 at the first switch, port 10');
        }
      });
      t.diagnostic(JSON.stringify(seen.filter((l) => l.step !== 'up')));
    });

    await t.test('tree,2,2: a probe captured in h1 and replayed from h3 every 0.5 s makes no link', async () => {
      let before = 0;
      let hosts: Record<string, { mac: string }> = {};
      await mininet(ovs, ctl, 'tree,2,2', ['pingall', 'forge'], (l) => {
        if (l.step === 'up') hosts = l.hosts as Record<string, { mac: string }>;
        if (l.step === 'pingall') {
          assert.equal(l.loss, 0, JSON.stringify(l));
          before = linksOf();
          assert.equal(before, 2);
        }
        if (l.step === 'forge') {
          assert.equal(l.captured, true, JSON.stringify(l));
          assert.equal(l.loss, 0, JSON.stringify(l));
          assert.equal(linksOf(), before, 'no link between two host ports');
          const rejected = (c.disc.rejected.get('stale') ?? 0) + (c.disc.rejected.get('host-port') ?? 0);
          assert.ok(rejected > 0, `the replays are counted: ${JSON.stringify([...c.disc.rejected])}`);
          assert.ok(lines.some((x) => /LLDP probe claiming .* rejected \((stale|host-port)\)/.test(x)), 'and logged');
          for (const h of Object.values(hosts)) assert.ok(c.hosts.byMac.has(h.mac), `${h.mac} still known`);
        }
      });
    });

    await t.test('torus,3,3 (loops): pingall, then a switch-to-switch link down: rerouted, still 0%', async () => {
      await mininet(ovs, ctl, 'torus,3,3', ['pingall', 'linkdown'], (l) => {
        if (l.step === 'pingall') assert.equal(l.loss, 0, JSON.stringify(l));
        if (l.step === 'linkdown') assert.equal(l.loss, 0, JSON.stringify(l));
      });
    });

    await t.test('single,16: pingall 0%', async () => {
      await mininet(ovs, ctl, 'single,16', ['pingall'], (l) => {
        if (l.step === 'pingall') assert.equal(l.loss, 0, JSON.stringify(l));
        if (l.step === 'pingall') assert.equal(c.hosts.byMac.size, 16);
      });
    });
  } finally {
    await stopRootOvs(ovs);
    await ctl.stop();
  }
});
