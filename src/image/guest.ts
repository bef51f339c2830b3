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
 *
 * Traffic that changes in time (scenario phases, trace) comes over the guest's control channel
 * instead: its second serial port (ttyS1, a unix socket on the host, QEMU `-serial chardev:`),
 * not the command line, since a schedule has no size bound (the x86 command line holds 2 KiB) and
 * its start must be given when the host starts the experiment, long after boot. The host writes
 * (after READY_LINE, so the port is open and nothing is lost to the UART's FIFO reset on open):
 *
 *   seg MS [DST,PAYLOAD,INTERVAL ...]   one per segment, in time order: from MS ms after the start
 *                                       exactly these flows run (none: the guest is silent)
 *   go ELAPSED                          start: the host's start was ELAPSED ms ago
 *
 * and the guest answers `score-guest: go SEGMENTS` on the channel (the host checks SEGMENTS is the
 * number of seg lines it wrote). The guest keeps time with its own monotonic clock (/proc/uptime):
 * its start is `uptime - ELAPSED`, each segment's flows are started (and the previous ones killed)
 * at start + MS. QEMU migrates guest time (the clock stands still while the guest is paused), so a
 * migrated guest keeps its schedule, late by at most the migration's downtime.
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
 * Printed on the serial console instead of READY_LINE when the guest has a control channel (ttyS1)
 * but could not open it in time: a schedule written then would be lost, so the host fails the boot.
 */
export const CONTROL_CLOSED_LINE = 'score-guest: control channel not open';

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
now_ms() {
  read up _ < /proc/uptime
  # "123.45": whole seconds, then the two decimals (prefixed with 1 so "05" is not octal)
  echo $(( \${up%.*} * 1000 + 1\${up#*.} * 10 - 1000 ))
}
run_schedule() {
  base=$(( $(now_ms) - $1 ))
  pids=""
  while read -r at fl; do
    while :; do
      rem=$(( base + at - $(now_ms) ))
      [ "$rem" -le 0 ] && break
      [ "$rem" -gt 1000 ] && rem=1000
      usleep $(( rem * 1000 ))
    done
    [ -n "$pids" ] && kill $pids 2>/dev/null
    pids=""
    for f in $fl; do
      set -- $(echo "$f" | tr , ' ')
      ping -q -s "$2" -i "$3" "$1" >/dev/null 2>&1 &
      pids="$pids $!"
    done
    echo "score-guest: segment at $at ms (clock $(( $(now_ms) - base )) ms): \${fl:-no flows}"
  done < /tmp/schedule
}
# the host's control channel (ttyS1, present when QEMU has a second serial port): the traffic
# schedule and its start (see guest.ts). Opened before READY_LINE: the host writes only after it,
# and bytes that reach the UART before the port is opened are lost when the driver resets its FIFO.
if grep -q '^1: uart:[0-9]' /proc/tty/driver/serial 2>/dev/null; then
  (exec 3<>/dev/ttyS1
  stty -F /dev/ttyS1 raw -echo
  : > /tmp/schedule
  : > /tmp/control-open
  n=0
  while read -r cmd rest <&3; do
    case "$cmd" in
      seg) echo "$rest" >> /tmp/schedule; n=$((n + 1)) ;;
      go)
        run_schedule "$rest" &
        # the controller learns the guest even if its first segment gives it no flow
        arping -U -c 1 -I eth0 "\${addr%/*}" >/dev/null 2>&1 &
        echo "score-guest: go $n" >&3
        echo "score-guest: schedule of $n segments started, $rest ms after the host's start"
        break ;;
    esac
  done) &
  i=0
  while [ ! -e /tmp/control-open ] && [ $i -lt 400 ]; do usleep 50000; i=$((i + 1)); done
  # not open after 20 s: say so rather than READY, or the host's first segment would be lost unseen
  [ -e /tmp/control-open ] || control_closed=1
fi
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
if [ -n "$control_closed" ]; then echo "${CONTROL_CLOSED_LINE}"; else echo "${READY_LINE}"; fi
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
 * One flow as /init reads it: `DST,PAYLOAD,INTERVAL` for `ping -s PAYLOAD -i INTERVAL DST`.
 * @throws ScoreError SCENARIO_INVALID for a flow the guest cannot carry out
 */
export function flowArg(f: GuestFlow): string {
  if (!IPV4.test(f.dst)) throw new ScoreError('SCENARIO_INVALID', `guest flow destination must be IPv4, got "${f.dst}"`, { dst: f.dst });
  if (!(f.pps > 0) || !Number.isFinite(f.pps)) throw new ScoreError('SCENARIO_INVALID', `guest flow to ${f.dst}: pps must be > 0`, { pps: f.pps });
  if (!(f.packetBytes >= IPV4_ICMP_HEADERS) || !Number.isInteger(f.packetBytes)) {
    throw new ScoreError('SCENARIO_INVALID', `guest flow to ${f.dst}: packets are at least ${IPV4_ICMP_HEADERS} bytes (IPv4 + ICMP)`, { packetBytes: f.packetBytes });
  }
  // ping's interval has millisecond resolution: print at most 3 decimals, never 0
  const interval = Math.max(0.001, Math.round(1000 / f.pps) / 1000);
  return `${f.dst},${f.packetBytes - IPV4_ICMP_HEADERS},${interval}`;
}

/** One segment of a guest's schedule: from `startSec` (after the host's start) exactly these flows. */
export interface GuestSegment {
  readonly startSec: number;
  readonly flows: readonly GuestFlow[];
}

/** The guest's answer on its control channel once it took the schedule and started it. */
export const GO_LINE = 'score-guest: go';

/**
 * The latest time a schedule may name, ms (about 31.7 years): far beyond any experiment, and small
 * enough that the guest's shell arithmetic (64-bit, base + at) cannot overflow and that JavaScript
 * prints the number in plain digits (from 1e21 on it prints exponent notation, which ash rejects).
 */
export const MAX_SCHEDULE_MS = 1e12;

/**
 * What the host writes on a guest's control channel (see the module comment): one `seg` line per
 * segment, then `go ELAPSED`. The guest keeps whole milliseconds: segments whose starts round to
 * the same ms (a trace's close samples) are merged, the later one kept, since it is what runs
 * from that millisecond on. Pure.
 * @param elapsedMs how long ago (ms) the host's common start was; 0 = now
 * @throws ScoreError SCENARIO_INVALID for segments out of order, not starting at 0, starting after
 *   MAX_SCHEDULE_MS, an elapsed time outside 0..MAX_SCHEDULE_MS, or a bad flow
 */
export function scheduleLines(segments: readonly GuestSegment[], elapsedMs: number): string[] {
  if (segments.length === 0 || segments[0]!.startSec !== 0) throw new ScoreError('SCENARIO_INVALID', 'a guest schedule starts with a segment at 0 s', {});
  if (!(elapsedMs >= 0 && elapsedMs <= MAX_SCHEDULE_MS)) throw new ScoreError('SCENARIO_INVALID', `the time since the start must be 0..${MAX_SCHEDULE_MS} ms, got ${elapsedMs}`, { elapsedMs });
  const out: string[] = [];
  let lastSec = -1;
  let lastMs = -1;
  for (const seg of segments) {
    if (!(seg.startSec > lastSec)) throw new ScoreError('SCENARIO_INVALID', `guest schedule segments must be in time order (${seg.startSec} s)`, { startSec: seg.startSec });
    const ms = Math.round(seg.startSec * 1000);
    if (!(ms <= MAX_SCHEDULE_MS)) throw new ScoreError('SCENARIO_INVALID', `a guest schedule segment starts at ${seg.startSec} s, after the latest ${MAX_SCHEDULE_MS / 1000} s`, { startSec: seg.startSec });
    const line = ['seg', String(ms), ...seg.flows.map(flowArg)].join(' ');
    if (ms === lastMs) out[out.length - 1] = line;
    else out.push(line);
    lastSec = seg.startSec;
    lastMs = ms;
  }
  out.push(`go ${Math.round(elapsedMs)}`);
  return out;
}

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
  for (const f of flows) parts.push(`score.flow=${flowArg(f)}`);
  if (dirty !== undefined) {
    if (!Number.isInteger(dirty.pages) || dirty.pages < 1 || dirty.pages > 256 || !Number.isInteger(dirty.everyMs) || dirty.everyMs < 1) {
      throw new ScoreError('SCENARIO_INVALID', 'memory load: 1-256 pages every >= 1 ms', { ...dirty });
    }
    parts.push(`score.dirty=${dirty.pages},${dirty.everyMs}`);
  }
  return parts.join(' ');
}
