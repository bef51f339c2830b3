import type { Connectivity, MigrationDriver } from './driver.ts';
import { migrateGuest, reconcileGuest, type FleetRun, type MigrateOptions } from '../../vm/fleet.ts';
import { isScoreError } from '../../errors/errors.ts';

/**
 * Live migration of real QEMU guests in the emulated data centre, through QMP (src/vm/fleet.ts):
 * pre-copy to a destination QEMU on the destination hypervisor's bridge; QEMU's own figures
 * (total time, downtime, setup time, bytes, dirty-page rate) are the result. A failed migration
 * leaves the guest running at the source and rejects with MIGRATION_FAILED and QEMU's reason.
 * Stateless: every call reads where the guest is from the run's records, so one agent process per
 * hypervisor (or a restarted one) drives the same guests; and first reconciles the VM with what
 * QEMU says (fleet.ts reconcileGuest), so a migration its predecessor left half done is settled.
 * Cluster mode (hooks.awaitControl): the migration starts once a leader is ready and pauses at
 * QEMU's pre-switchover for the claim (fleet.ts MigrateOptions.claim); a claim no leader took
 * (CLUSTER_NOT_LEADER) cancels that attempt, the guest runs on at its source, and the driver waits
 * for a leader and migrates again (rounds bounded by the agent's wait and claim count).
 */
export interface QemuDriverOptions extends MigrateOptions {
  readonly run: FleetRun;
  /** peers' probes while the VM moves: start before the migration, stop after it */
  readonly probe?: (vm: string) => { stop(): Promise<Connectivity> };
  /** how long the probes go on after the move, ms (default 800) */
  readonly probeAfterMs?: number;
}

export function qemuDriver(o: QemuDriverOptions): MigrationDriver {
  return {
    name: 'qemu',
    async migrate(vm, from, to, hooks) {
      // an agent that died mid-migration may have left two QEMUs of this VM: QEMU says which runs
      await reconcileGuest(o.run, vm);
      const probe = o.probe?.(vm);
      let outcome: Awaited<ReturnType<typeof migrateGuest>>;
      try {
        for (;;) {
          const claim = await hooks?.awaitControl?.();
          try {
            outcome = await migrateGuest(o.run, vm, from, to, { ...o, ...(hooks?.onSwitchover !== undefined ? { onSwitchover: hooks.onSwitchover } : {}), ...(claim !== undefined ? { claim } : {}) });
            break;
          } catch (e) {
            if (claim !== undefined && isScoreError(e, 'CLUSTER_NOT_LEADER')) continue;
            throw e;
          }
        }
      } catch (e) {
        await probe?.stop().catch(() => undefined);
        throw e;
      }
      let connectivity: Connectivity | undefined;
      if (probe !== undefined) {
        await new Promise((r) => setTimeout(r, o.probeAfterMs ?? 800));
        connectivity = await probe.stop();
      }
      return { port: outcome.record.port, figures: outcome.figures, ...(connectivity ? { connectivity } : {}) };
    },
  };
}
