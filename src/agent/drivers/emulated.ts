import { spawn } from 'node:child_process';
import { ScoreError, isScoreError } from '../../errors/errors.ts';
import type { Model } from '../../scenario/model.ts';
import { attachDataCentre, type DataCentre } from '../../emulation/datacentre.ts';
import { resolveTool } from '../../emulation/exec.ts';
import type { Connectivity, MigrationDriver } from './driver.ts';

/**
 * Live migration in the emulated data centre, from an agent process: attach to the run that
 * `score emulate` built (by its prefix), re-cable the VM's namespace to the destination
 * hypervisor's bridge and announce it with RARP and gratuitous ARP, as QEMU does. While it moves,
 * each peer pings it every 10 ms, so the result says what the peers lost.
 */
const PROBE_MS = 10;

/** Pings `ip` from namespace `ns` every 10 ms until stopped: what a peer lost, and its longest gap. */
export function probe(ns: string, ip: string): { stop: () => Promise<Connectivity> } {
  const child = spawn(resolveTool('ip'), ['netns', 'exec', ns, 'ping', '-n', '-i', String(PROBE_MS / 1000), '-W', '1', ip], { stdio: ['ignore', 'pipe', 'ignore'] });
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

export interface EmulatedDriverOptions {
  readonly model: Model;
  readonly prefix: string;
  /** how long the peers keep probing after the move (default 800 ms) */
  readonly probeAfterMs?: number;
  /** attach once and reuse (the builder's own handle); default: attach for every migration */
  readonly dc?: DataCentre;
}

export function emulatedDriver(o: EmulatedDriverOptions): MigrationDriver {
  return {
    name: 'emulated',
    async migrate(vm, from, to) {
      // Fresh state every time: other agent processes move VMs too, and port numbers follow.
      const dc = o.dc ?? (await attachDataCentre(o.model, o.prefix));
      if (dc.hypervisorOf(vm) !== from) throw new ScoreError('MIGRATION_FAILED', `${vm} is cabled to ${dc.hypervisorOf(vm)}, not ${from}`, { vm, from });
      const ip = o.model.vmInfo.get(vm)?.ip;
      if (ip === undefined) throw new ScoreError('UNKNOWN_VM', `no VM ${vm} in the scenario`, { vm });
      const peers = [...(o.model.traffic.peers.get(vm)?.keys() ?? [])];
      const probes = peers.map((p) => probe(dc.vmNamespace(p), ip));
      await new Promise((r) => setTimeout(r, 200));
      let port: number;
      const t0 = performance.now();
      let totalTimeMs = 0;
      try {
        port = (await dc.moveVm(vm, to)).port;
        totalTimeMs = performance.now() - t0;
      } catch (e) {
        await Promise.all(probes.map((p) => p.stop()));
        // moveVm put the cable back on the source port: the VM is where it was
        throw isScoreError(e, 'MIGRATION_FAILED') ? e : new ScoreError('MIGRATION_FAILED', `re-cabling ${vm} to ${to} failed: ${e instanceof Error ? e.message : String(e)}`, { vm, to }, { cause: e });
      } finally {
        await new Promise((r) => setTimeout(r, o.probeAfterMs ?? 800));
      }
      const results = await Promise.all(probes.map((p) => p.stop()));
      return {
        port,
        // no memory is copied: the namespace keeps running; only the re-cabling takes time
        figures: { source: 'wall-clock', totalTimeMs, downtimeMs: null, setupTimeMs: null, transferredBytes: 0, dirtyPagesRate: null, memoryBytes: null },
        connectivity: {
          sent: results.reduce((s, r) => s + r.sent, 0),
          received: results.reduce((s, r) => s + r.received, 0),
          blackoutMs: Math.max(0, ...results.map((r) => r.blackoutMs)),
        },
      };
    },
  };
}
