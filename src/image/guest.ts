/**
 * What runs inside a guest, as data: the initramfs's /init script and the kernel command line
 * that tells one guest who it is (address) and what traffic it makes. Pure: the image builder
 * (build.ts) packs INIT_SCRIPT, QEMU (src/vm/qemu.ts) passes guestCmdline's output with -append.
 *
 * Kernel arguments reach the guest in /proc/cmdline; a dotted name (`score.ip=`) is a module
 * parameter for a module that does not exist, so the kernel leaves it alone and does not hand it
 * to init as an environment variable or argument.
 *
 *   score.ip=10.0.0.1/24              eth0's address (the MAC comes from QEMU's -device ...,mac=)
 *   score.flow=DST,PAYLOAD,INTERVAL   one per flow: `ping -s PAYLOAD -i INTERVAL DST` from the guest
 *   score.dirty=PAGES,MS              memory load: rewrite PAGES 4 KiB pages of random data every MS
 *                                     ms, cycling through a 32 MiB working set (pre-copy experiments)
 */
import { ScoreError } from '../errors/errors.ts';

/**
 * virtio is modular in Debian's cloud kernel: these are loaded with insmod (no depmod data in the
 * initramfs), each after the ones it needs. Checked against the 6.1 cloud kernel's modules.dep.
 */
export const VIRTIO_NET_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'] as const;

/** Printed on the serial console once eth0 is configured and the flows started. */
export const READY_LINE = 'score-guest: ready';

/**
 * The guest's PID 1 (busybox ash). It never exits: PID 1 exiting panics the kernel, and the guest
 * has no getty (its console is a file on the host).
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_NET_MODULES.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "score-guest: insmod $m failed"
done
addr=""
flows=""
for a in $(cat /proc/cmdline); do
  case "$a" in
    score.ip=*) addr="\${a#score.ip=}" ;;
    score.flow=*) flows="$flows \${a#score.flow=}" ;;
    score.dirty=*) dirty="\${a#score.dirty=}" ;;
  esac
done
ip link set lo up
ip addr add "$addr" dev eth0
ip link set eth0 up
echo "score-guest: eth0 $(cat /sys/class/net/eth0/address) $addr"
for f in $flows; do
  set -- $(echo "$f" | tr , ' ')
  ping -q -s "$2" -i "$3" "$1" >/dev/null 2>&1 &
  echo "score-guest: flow to $1 payload $2 interval $3"
done
if [ -n "$dirty" ]; then
  set -- $(echo "$dirty" | tr , ' ')
  # random, not zeros: QEMU sends a zero page as a marker, not as 4 KiB
  dd if=/dev/urandom of=/tmp/random bs=4096 count=256 2>/dev/null
  (off=0; while true; do
    dd if=/tmp/random of=/tmp/dirty bs=4096 count="$1" seek=$off conv=notrunc 2>/dev/null
    off=$(( (off + $1) % 8192 ))
    usleep $(( $2 * 1000 ))
  done) &
  echo "score-guest: dirtying $1 pages every $2 ms"
fi
echo "${READY_LINE}"
while true; do sleep 3600; done
`;

/** A flow the guest sends, packet-shaped: ICMP echo requests (the peer's kernel answers). */
export interface GuestFlow {
  readonly dst: string;
  /** whole IP packet, bytes (>= 28: IPv4 + ICMP headers) */
  readonly packetBytes: number;
  /** packets per second (> 0; busybox ping takes fractional intervals) */
  readonly pps: number;
}

const IPV4_ICMP_HEADERS = 28;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The kernel command line for one guest: serial console, its address and its flows.
 * @param cidr e.g. `10.0.0.1/24`
 * @throws ScoreError SCENARIO_INVALID for an address or flow the guest cannot carry out
 */
export function guestCmdline(cidr: string, flows: readonly GuestFlow[] = [], dirty?: { readonly pages: number; readonly everyMs: number }): string {
  const [ip, len] = cidr.split('/');
  if (ip === undefined || !IPV4.test(ip) || len === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32) {
    throw new ScoreError('SCENARIO_INVALID', `guest address must be IPv4/prefix, got "${cidr}"`, { cidr });
  }
  const parts = ['console=ttyS0', 'panic=-1', 'quiet', `score.ip=${cidr}`];
  for (const f of flows) {
    if (!IPV4.test(f.dst)) throw new ScoreError('SCENARIO_INVALID', `guest flow destination must be IPv4, got "${f.dst}"`, { dst: f.dst });
    if (!(f.pps > 0) || !Number.isFinite(f.pps)) throw new ScoreError('SCENARIO_INVALID', `guest flow to ${f.dst}: pps must be > 0`, { pps: f.pps });
    if (!(f.packetBytes >= IPV4_ICMP_HEADERS) || !Number.isInteger(f.packetBytes)) {
      throw new ScoreError('SCENARIO_INVALID', `guest flow to ${f.dst}: packets are at least ${IPV4_ICMP_HEADERS} bytes (IPv4 + ICMP)`, { packetBytes: f.packetBytes });
    }
    // ping's interval has millisecond resolution: print at most 3 decimals, never 0
    const interval = Math.max(0.001, Math.round(1000 / f.pps) / 1000);
    parts.push(`score.flow=${f.dst},${f.packetBytes - IPV4_ICMP_HEADERS},${interval}`);
  }
  if (dirty !== undefined) {
    if (!Number.isInteger(dirty.pages) || dirty.pages < 1 || dirty.pages > 256 || !Number.isInteger(dirty.everyMs) || dirty.everyMs < 1) {
      throw new ScoreError('SCENARIO_INVALID', 'memory load: 1-256 pages every >= 1 ms', { ...dirty });
    }
    parts.push(`score.dirty=${dirty.pages},${dirty.everyMs}`);
  }
  return parts.join(' ');
}
