import { spawn } from 'node:child_process';
import type { Model } from '../scenario/model.ts';
import type { PolicyName } from '../core/policies.ts';
import { realClock } from '../runtime/clock.ts';
import type { TimelinePoint } from '../sim/fluid.ts';
import type { RunRecord } from '../sim/run.ts';
import { openflowDataPlane } from '../openflow/connection/index.ts';
import { silentLog } from '../openflow/connection/log.ts';
import { buildDataCentre, type DataCentre } from '../emulation/datacentre.ts';
import { startTraffic, type TrafficHandle } from '../emulation/traffic.ts';
import { resolveTool } from '../emulation/exec.ts';
import type { MigrationDriver } from '../agent/drivers/driver.ts';
import { links as discoveredLinks } from '../controller/discovery.ts';
import * as ctl from '../controller/controller.ts';
import { ScoreError } from '../errors/errors.ts';
import { startAgent, startStack, type RunningAgent, type Stack } from './stack.ts';
import { measuredPoint, orchestrate } from './live-run.ts';

/**
 * The paper's experiment for real: the controller speaks OpenFlow 1.3 to Open vSwitch bridges
 * built from the scenario, nping/iperf3 make the traffic inside VM namespaces, one agent per
 * hypervisor (each with its own HTTP server) decides and migrates by re-cabling the VM's
 * namespace and announcing it as QEMU does. While a VM moves, every peer pings it every 10 ms,
 * so each migration reports the packets its peers lost.
 */
export interface MigrationLoss {
  readonly vm: string;
  readonly to: string;
  readonly sent: number;
  readonly received: number;
  /** longest run of consecutive lost probes × the probe interval: the blackout */
  readonly blackoutMs: number;
}

export interface EmulatedRun {
  readonly record: RunRecord;
  readonly losses: readonly MigrationLoss[];
  readonly discoveryMs: number;
  readonly buildMs: number;
}

export interface EmulatedExperimentOptions {
  readonly model: Model;
  readonly file: string;
  readonly policy: PolicyName;
  readonly settleMs?: number;
  readonly out?: (s: string) => void;
  readonly rateTolerance?: number;
  readonly shape?: boolean;
  /** called once everything stands (e.g. to print addresses) */
  readonly onReady?: (stack: Stack, dc: DataCentre) => void;
}

const PROBE_MS = 10;

async function until(cond: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new ScoreError('OF_TIMEOUT', `${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

/** Pings `ip` from namespace `ns` every PROBE_MS until stopped; returns what was lost and the longest gap. */
function probe(ns: string, ip: string): { stop: () => Promise<{ sent: number; received: number; blackoutMs: number }> } {
  const ipTool = resolveTool('ip');
  const child = spawn(ipTool, ['netns', 'exec', ns, 'ping', '-n', '-i', String(PROBE_MS / 1000), '-W', '1', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
      const seqs = [...text.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1]));
      let gap = 0;
      for (let i = 1; i < seqs.length; i++) gap = Math.max(gap, seqs[i]! - seqs[i - 1]! - 1);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), blackoutMs: gap * PROBE_MS };
    },
  };
}

function emulatedDriver(dc: DataCentre, model: Model, losses: MigrationLoss[]): MigrationDriver {
  return {
    name: 'emulated',
    async migrate(vm, from, to) {
      if (dc.hypervisorOf(vm) !== from) throw new ScoreError('MIGRATION_FAILED', `${vm} is not on ${from}`, { vm, from });
      const ip = model.vmInfo.get(vm)!.ip;
      const peers = [...(model.traffic.peers.get(vm)?.keys() ?? [])];
      const probes = peers.map((p) => probe(dc.vmNamespace(p), ip));
      await new Promise((r) => setTimeout(r, 200));
      const port = await dc.moveVm(vm, to);
      // keep probing until traffic has had time to find the new path
      await new Promise((r) => setTimeout(r, 800));
      const results = await Promise.all(probes.map((p) => p.stop()));
      losses.push({
        vm,
        to,
        sent: results.reduce((s, r) => s + r.sent, 0),
        received: results.reduce((s, r) => s + r.received, 0),
        blackoutMs: Math.max(0, ...results.map((r) => r.blackoutMs)),
      });
      return { port: port.port };
    },
  };
}

export async function runEmulatedExperiment(o: EmulatedExperimentOptions): Promise<EmulatedRun> {
  const out = o.out ?? (() => undefined);
  const settleMs = o.settleMs ?? 4000;
  const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog });
  const timeline: TimelinePoint[] = [];
  const t0 = Date.now();
  let stack: Stack | null = null;
  stack = await startStack({
    model: o.model,
    dataPlane,
    clock: realClock,
    settleMs,
    confirmMs: 5000,
    rateTolerance: o.rateTolerance ?? 0.05,
    onSettled: (k) => {
      // the cost is read once the rates have been re-measured on the new paths
      if (stack) timeline.push(measuredPoint(stack, k, (Date.now() - t0) / 1000));
    },
  });
  let dc: DataCentre | undefined;
  let traffic: TrafficHandle | undefined;
  const agents: RunningAgent[] = [];
  const losses: MigrationLoss[] = [];
  try {
    const buildStart = Date.now();
    dc = await buildDataCentre(o.model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: o.shape ?? true });
    const buildMs = Date.now() - buildStart;
    const c = stack.runtime.controller;
    const connected = Date.now();
    await until(() => stack.runtime.channels.size === o.model.topology.nodes.size, 10_000, 'every switch connecting');
    const discoveryMs = (await until(() => discoveredLinks(c.disc).length === o.model.topology.links.length, 10_000, 'discovery of every link')) + (Date.now() - connected) * 0;
    out(`  ${o.policy}: ${stack.runtime.channels.size} switches connected, ${discoveredLinks(c.disc).length} links discovered in ${discoveryMs} ms`);
    // VMs say hello, as booting VMs do: the tracker knows every VM and so every hypervisor's load
    await Promise.all(o.model.vms.map((vm) => dc!.announce(vm, 1)));
    await until(() => c.hosts.byMac.size === o.model.vms.length, 10_000, 'every VM being seen');
    traffic = await startTraffic(dc);
    const expected = o.model.flows.length;
    await until(() => ctl.pairRates(c, Date.now()).filter((r) => r.bytesPerSecond > 0 && o.model.vmInfo.size > 0).length >= expected, 20_000, 'rates measured for every flow');
    await new Promise((r) => setTimeout(r, 2000));
    for (const h of o.model.scenario.hypervisors) {
      agents.push(await startAgent({ hypervisor: h.id, apiUrl: stack.apiUrl, token: stack.tokens.agent, driver: emulatedDriver(dc, o.model, losses) }));
    }
    o.onReady?.(stack, dc);
    const record = await orchestrate(stack, { policy: o.policy, model: o.model, file: o.file, source: 'emulate', clock: realClock, settleMs, timeline });
    return { record, losses, discoveryMs, buildMs };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await traffic?.stop();
    await dc?.stop();
    await stack.stop();
  }
}
