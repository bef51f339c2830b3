import { execFile } from 'node:child_process';
import { ScoreError } from '../../errors/errors.ts';
import type { MigrationDriver } from './driver.ts';

/**
 * Live migration with libvirt: `virsh migrate --live` of the VM's domain to the destination
 * hypervisor's libvirt URI. The agent runs on the source host; `uriFor` maps a hypervisor name to
 * its URI (default qemu+ssh://NAME/system). Only the command construction is tested here: no
 * libvirt on CI machines.
 */
export interface LibvirtOptions {
  /** hypervisor name -> destination URI */
  readonly uriFor?: (hypervisor: string) => string;
  /** VM name -> libvirt domain name (default: the same) */
  readonly domainFor?: (vm: string) => string;
  /** keep the domain defined on the destination and remove it from the source (default true) */
  readonly persistent?: boolean;
  /** seconds before virsh gives up (--timeout, suspends the VM to finish) */
  readonly timeoutSeconds?: number;
  readonly virsh?: string;
}

export function virshMigrateArgs(vm: string, to: string, o: LibvirtOptions = {}): string[] {
  const uri = (o.uriFor ?? ((h: string) => `qemu+ssh://${h}/system`))(to);
  const domain = (o.domainFor ?? ((v: string) => v))(vm);
  for (const [what, value] of [['domain', domain], ['uri', uri]] as const) {
    // execFile passes arguments verbatim, but an option-looking name would still be parsed by virsh
    if (value.startsWith('-') || /[\s\0]/.test(value)) throw new ScoreError('MIGRATION_FAILED', `refusing ${what} "${value}"`, { [what]: value });
  }
  const args = ['migrate', '--live', '--verbose'];
  if (o.persistent ?? true) args.push('--persistent', '--undefinesource');
  if (o.timeoutSeconds !== undefined) args.push('--timeout', String(o.timeoutSeconds));
  args.push('--domain', domain, '--desturi', uri);
  return args;
}

export function libvirtDriver(o: LibvirtOptions = {}): MigrationDriver {
  return {
    name: 'libvirt',
    migrate(vm, _from, to) {
      const args = virshMigrateArgs(vm, to, o);
      return new Promise((resolve, reject) => {
        execFile(o.virsh ?? 'virsh', args, { timeout: ((o.timeoutSeconds ?? 300) + 30) * 1000 }, (err, _stdout, stderr) => {
          if (err) reject(new ScoreError('MIGRATION_FAILED', `virsh ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { args }, { cause: err }));
          else resolve({});
        });
      });
    },
  };
}
