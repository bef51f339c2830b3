/**
 * Naming scheme of everything the emulation creates on the host.
 *
 *   run prefix  `sc` + 4 base36 chars, e.g. `sc3k9z` (6 chars; 36^4 ≈ 1.7 M values per run)
 *   resource    `<prefix>-<local>`, local name at most 8 chars of [a-z0-9-], Mininet style:
 *                 bridge     sc3k9z-s1        (hv16's switch: sc3k9z-hv16)
 *                 namespace  sc3k9z-h1        (a VM/host: sc3k9z-vm24)
 *                 veth ends  sc3k9z-h1-e0 / sc3k9z-s1-e1  (`<node>-e<port>`)
 *                 OVS netns  sc3k9z-ovs       (where ovs-vswitchd and its ports live)
 *   run dir     `<os.tmpdir()>/score-ovs-<prefix>`
 *
 * Linux interface names hold at most 15 bytes (IFNAMSIZ - 1): 6 + 1 + 8 = 15, so every resource
 * name is a valid interface name, and a single rule ("starts with a run prefix and a dash")
 * finds a crashed run's leftovers in `ip netns`, `ip link` and the temp directory alike.
 */
import { ScoreError } from '../errors/errors.ts';

export const IFNAME_MAX = 15;
export const LOCAL_NAME_MAX = 8;
export const RUN_PREFIX_PATTERN = /^sc[0-9a-z]{4}$/;
export const RUN_DIR_PREFIX = 'score-ovs-';

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A fresh run prefix; `random` returns values in [0, 1) (Math.random in production). */
export function newRunPrefix(random: () => number): string {
  let s = 'sc';
  for (let i = 0; i < 4; i++) s += BASE36[Math.min(35, Math.floor(random() * 36))];
  return s;
}

export function assertRunPrefix(prefix: string): void {
  // Custom prefixes are allowed (tests, debugging) but must leave room for local names and must
  // not contain the separator, or prefixOf() could no longer recover them.
  if (!/^[a-z][a-z0-9]{1,5}$/.test(prefix)) {
    throw new ScoreError('INTERNAL', `bad run prefix ${JSON.stringify(prefix)}: want 2-6 chars [a-z0-9], letter first`, {
      prefix,
    });
  }
}

/** `<prefix>-<local>`, checked to be a valid Linux interface name. */
export function resourceName(prefix: string, local: string): string {
  assertRunPrefix(prefix);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(local) || local.length > LOCAL_NAME_MAX) {
    throw new ScoreError('INTERNAL', `bad local name ${JSON.stringify(local)}: want 1-${LOCAL_NAME_MAX} chars [a-z0-9-]`, {
      prefix,
      local,
    });
  }
  const name = `${prefix}-${local}`;
  if (name.length > IFNAME_MAX) {
    throw new ScoreError('INTERNAL', `name ${name} is longer than ${IFNAME_MAX} chars`, { prefix, local });
  }
  return name;
}

/** The run prefix a resource name carries, if it follows the scheme. */
export function prefixOf(name: string): string | undefined {
  const dash = name.indexOf('-');
  return dash > 0 ? name.slice(0, dash) : undefined;
}

export function belongsToRun(name: string, prefix: string): boolean {
  return name.startsWith(`${prefix}-`);
}

export function runDirName(prefix: string): string {
  return `${RUN_DIR_PREFIX}${prefix}`;
}

export function prefixOfRunDir(dirName: string): string | undefined {
  return dirName.startsWith(RUN_DIR_PREFIX) ? dirName.slice(RUN_DIR_PREFIX.length) : undefined;
}
