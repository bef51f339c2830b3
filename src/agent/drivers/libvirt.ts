import { execFile } from 'node:child_process';
import { ScoreError } from '../../errors/errors.ts';
import type { MigrationDriver, MigrationFigures } from './driver.ts';

/**
 * Live migration with libvirt: `virsh migrate --live` of the VM's domain to the destination
 * hypervisor's libvirt URI. The agent runs on the source host; `uriFor` maps a hypervisor name to
 * its URI (default qemu+ssh://NAME/system). Where the destination needs its own domain XML (its
 * NIC on the destination's bridge), `prepare` supplies it and is told how the migration ended;
 * with `jobInfo` the figures come from libvirt's job info on the destination (`virsh domjobinfo
 * --completed`, QEMU's counters). A failed `virsh migrate` leaves the domain running at the
 * source (libvirt's own guarantee for pre-copy) and rejects with MIGRATION_FAILED and virsh's
 * message, unless `virsh domstate` then finds the domain running at the destination and not at the
 * source (virsh's client killed by the timeout, a Confirm-phase error): that is a migration done.
 * In a controller cluster (hooks.awaitControl) the migration starts only once a leader is ready;
 * a wait that runs out rejects with SWITCHOVER_NO_LEADER and nothing is started.
 * The emulated data centre's libvirt hosts are in src/vm/libvirt.ts.
 */
export interface LibvirtOptions {
  /** hypervisor name -> destination URI */
  readonly uriFor?: (hypervisor: string) => string;
  /** hypervisor name -> the URI virsh connects to for the source (default: virsh's default) */
  readonly sourceUriFor?: (hypervisor: string) => string;
  /** hypervisor name -> the address QEMU streams to (--migrateuri), e.g. tcp://10.0.0.2:49152 */
  readonly migrateUriFor?: (hypervisor: string) => string;
  /** VM name -> libvirt domain name (default: the same) */
  readonly domainFor?: (vm: string) => string;
  /** keep the domain defined on the destination and remove it from the source (default true) */
  readonly persistent?: boolean;
  /** seconds before virsh gives up (--timeout, suspends the VM to finish) */
  readonly timeoutSeconds?: number;
  readonly virsh?: string;
  /** before the migration: the destination's domain XML file, and what to do after */
  readonly prepare?: (vm: string, from: string, to: string) => Promise<Preparation>;
  /** read the figures from the destination's job info (default false) */
  readonly jobInfo?: boolean;
  /** parses `virsh domjobinfo --completed` (src/vm/libvirt.ts parseJobInfo) */
  readonly parseJobInfo?: (text: string) => MigrationFigures;
  /** after a failed virsh migrate, how long a paused end is waited for to settle before its state is read, ms (default 30 s) */
  readonly settleMs?: number;
}

export interface Preparation {
  /** path of the destination's domain XML (--xml) */
  readonly xmlPath?: string;
  /** the VM runs at the destination: tidy the source (its tap) */
  commit(): Promise<void>;
  /** the migration failed: undo what prepare made (the destination's tap) */
  abort(): Promise<void>;
}

function safe(what: string, value: string): void {
  // execFile passes arguments verbatim, but an option-looking name would still be parsed by virsh
  if (value.startsWith('-') || /[\s\0]/.test(value)) throw new ScoreError('MIGRATION_FAILED', `refusing ${what} "${value}"`, { [what]: value });
}

export function virshMigrateArgs(vm: string, to: string, o: LibvirtOptions = {}, extra: { from?: string; xmlPath?: string } = {}): string[] {
  const uri = (o.uriFor ?? ((h: string) => `qemu+ssh://${h}/system`))(to);
  const domain = (o.domainFor ?? ((v: string) => v))(vm);
  safe('domain', domain);
  safe('uri', uri);
  const args: string[] = [];
  if (o.sourceUriFor !== undefined && extra.from !== undefined) {
    const src = o.sourceUriFor(extra.from);
    safe('uri', src);
    args.push('-c', src);
  }
  args.push('migrate', '--live', '--verbose');
  if (o.persistent ?? true) args.push('--persistent', '--undefinesource');
  if (o.timeoutSeconds !== undefined) args.push('--timeout', String(o.timeoutSeconds));
  args.push('--domain', domain, '--desturi', uri);
  if (o.migrateUriFor !== undefined) {
    const m = o.migrateUriFor(to);
    safe('migrateuri', m);
    args.push('--migrateuri', m);
  }
  if (extra.xmlPath !== undefined) {
    safe('xml', extra.xmlPath);
    args.push('--xml', extra.xmlPath);
  }
  return args;
}

function runVirsh(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new ScoreError('MIGRATION_FAILED', `virsh ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { args: [...args] }, { cause: err }));
      else resolve(stdout);
    });
  });
}

type DomState = 'running' | 'paused' | 'other' | 'unknown';

/** virsh's answer when the domain does not exist there: after a live migration the source's is gone */
const NO_DOMAIN = /failed to get domain|domain not found|no domain with matching/i;

/**
 * The domain's state at each end (virsh domstate); a query that fails is `unknown`, not "not
 * running". While either end is paused (libvirt still migrating or finishing) it asks again, every
 * second for up to `settleMs`.
 */
async function statesAt(file: string, o: LibvirtOptions, vm: string, from: string, to: string, settleMs = 30_000): Promise<{ from: DomState; to: DomState }> {
  const domain = (o.domainFor ?? ((v: string) => v))(vm);
  const state = (uri: string | undefined): Promise<DomState> =>
    runVirsh(file, [...(uri === undefined ? [] : ['-c', uri]), 'domstate', '--domain', domain], 10_000).then(
      (out) => (out.trim() === 'running' ? 'running' : out.trim() === 'paused' ? 'paused' : 'other'),
      // no such domain is an answer (not there: 'other'); anything else (no connection) is not
      (e: unknown) => (e instanceof Error && NO_DOMAIN.test(e.message) ? 'other' : 'unknown'),
    );
  const end = Date.now() + settleMs;
  for (;;) {
    const [atFrom, atTo] = await Promise.all([state(o.sourceUriFor?.(from)), state((o.uriFor ?? ((h: string) => `qemu+ssh://${h}/system`))(to))]);
    if ((atFrom !== 'paused' && atTo !== 'paused') || Date.now() >= end) return { from: atFrom, to: atTo };
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export function libvirtDriver(o: LibvirtOptions = {}): MigrationDriver {
  const file = o.virsh ?? 'virsh';
  return {
    name: 'libvirt',
    async migrate(vm, from, to, hooks) {
      // Cluster mode: no migration starts while the cluster has no ready leader (a failover), so
      // the switch-over does not land in that gap. libvirt's API has no pause before the
      // switch-over, so the claim itself is not used: the VM switches over when the migration
      // converges and the agent's report follows. SWITCHOVER_NO_LEADER: nothing was started.
      await hooks?.awaitControl?.();
      const prep = await o.prepare?.(vm, from, to);
      const args = virshMigrateArgs(vm, to, o, { from, ...(prep?.xmlPath !== undefined ? { xmlPath: prep.xmlPath } : {}) });
      try {
        await runVirsh(file, args, ((o.timeoutSeconds ?? 300) + 30) * 1000);
      } catch (e) {
        // virsh failing is not proof the domain stayed: its client can be killed by our timeout,
        // or the Confirm phase fail, after the destination took over. Ask both ends before undoing
        // the destination's side (its tap) under a running guest.
        const at = await statesAt(file, o, vm, from, to, o.settleMs);
        const why = e instanceof Error ? e.message : String(e);
        if (at.to === 'running' && at.from === 'other') {
          // done after all: the source is stopped or gone, the destination runs
          await prep?.commit().catch(() => undefined);
          return { warnings: [`virsh migrate failed (${why}) but ${vm} runs at ${to} and no longer at ${from}: taken as done`] };
        }
        if (at.to === 'running' && at.from !== 'running') {
          // the destination runs and the source cannot be told: its tap stays (it may be the live guest)
          throw new ScoreError('MIGRATION_FAILED', `${why}; ${vm} runs at ${to}, its state at ${from} is ${at.from}: nothing undone, check both`, { vm, from, to, fromState: at.from }, { cause: e });
        }
        if (at.from !== 'running' && at.to !== 'other') {
          // the source is not seen running and the destination is not seen stopped (still paused
          // after the wait, or not answering): its tap may be under the only copy; undo nothing
          throw new ScoreError('MIGRATION_FAILED', `${why}; ${vm} is ${at.from} at ${from} and ${at.to} at ${to}: nothing undone, check both`, { vm, from, to, fromState: at.from, toState: at.to }, { cause: e });
        }
        await prep?.abort().catch(() => undefined);
        if (at.to === 'running') throw new ScoreError('MIGRATION_FAILED', `${why}; and the domain now runs at both ${from} and ${to}`, { vm, from, to, both: true }, { cause: e });
        throw e;
      }
      let figures: MigrationFigures | undefined;
      if (o.jobInfo === true && o.parseJobInfo !== undefined) {
        const dest = (o.uriFor ?? ((h: string) => `qemu+ssh://${h}/system`))(to);
        const domain = (o.domainFor ?? ((v: string) => v))(vm);
        figures = o.parseJobInfo(await runVirsh(file, ['-c', dest, 'domjobinfo', '--domain', domain, '--completed'], 30_000).catch(() => ''));
      }
      await prep?.commit();
      return figures === undefined ? {} : { figures };
    },
  };
}
