import { ScoreError } from '../../errors/errors.ts';
import type { SimDataPlane } from '../../dataplane/sim.ts';
import type { MigrationDriver } from './driver.ts';

/** Migration on the simulated data plane: re-wire the VM and let it announce itself, as QEMU does. */
export function simDriver(sim: SimDataPlane, options: { fail?: (vm: string) => boolean } = {}): MigrationDriver {
  return {
    name: 'sim',
    migrate(vm, from, to) {
      if (sim.hostOf(vm) !== from) return Promise.reject(new ScoreError('MIGRATION_FAILED', `${vm} is not on ${from}`, { vm, from }));
      if (options.fail?.(vm)) return Promise.reject(new ScoreError('MIGRATION_FAILED', `simulated driver failure for ${vm}`, { vm }));
      return Promise.resolve({ port: sim.moveVm(vm, to), figures: { source: 'simulated', totalTimeMs: 0, downtimeMs: null, setupTimeMs: null, transferredBytes: 0, dirtyPagesRate: null, memoryBytes: null } });
    },
  };
}
