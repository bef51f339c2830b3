import { ScoreError, isScoreError } from '../../errors/errors.ts';
import type { Model } from '../../scenario/model.ts';
import { attachDataCentre, type DataCentre } from '../../emulation/datacentre.ts';
import type { MigrationDriver } from './driver.ts';
import { probe } from './probe.ts';

export { probe } from './probe.ts';

/**
 * Live migration in the emulated data centre, from an agent process: attach to the run that
 * `score emulate` built (by its prefix), re-cable the VM's namespace to the destination
 * hypervisor's bridge and announce it with RARP and gratuitous ARP, as QEMU does. While it moves,
 * each peer pings it every 10 ms, so the result says what the peers lost.
 */
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
    async migrate(vm, from, to, hooks) {
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
      let refused: unknown;
      const warnings: string[] = [];
      const onWarning = (m: string): void => {
        warnings.push(m);
        console.error(`WARN ${m}`);
      };
      try {
        // Cluster mode: not while no controller leader could re-route the VM (one just died):
        // the VM runs on at its source meanwhile. The leader takes the switch-over while the VM is
        // paused, before it is plugged in at the destination (make before break: its paths to the
        // new port are in the switches when it arrives, whatever happens to the leader after).
        // Rounds are bounded by awaitControl (the agent's wait and claim count).
        for (;;) {
          const claim = await hooks?.awaitControl?.();
          try {
            port = (await dc.moveVm(vm, to, claim === undefined ? { onWarning } : { onWarning, beforePlug: (p) => claim(to, p).catch((err: unknown) => {
                    refused = err;
                    throw err;
                  }) })).port;
            break;
          } catch (e) {
            // the leader died between its readiness and the report: the VM is back at its source
            if (claim !== undefined && isScoreError(e, 'CLUSTER_NOT_LEADER')) continue;
            throw e;
          }
        }
        totalTimeMs = performance.now() - t0;
      } catch (e) {
        await Promise.all(probes.map((p) => p.stop()));
        // nothing moved, or moveVm put the cable back on the source port: the VM is where it was;
        // the controller's own refusal of the switch-over keeps its code (UNKNOWN_VM, ...)
        if (isScoreError(e, 'SWITCHOVER_NO_LEADER') || (refused !== undefined && e === refused)) throw e;
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
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    },
  };
}
