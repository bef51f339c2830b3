import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageKey, parseKernelDepends, IMAGE_FORMAT, defaultCacheDir } from './build.ts';
import { guestCmdline, scheduleLines, INIT_SCRIPT, VIRTIO_NET_MODULES, CONTROL_CLOSED_LINE, READY_LINE, MAX_SCHEDULE_MS } from './guest.ts';
import { isScoreError } from '../errors/errors.ts';
import { qemuArgs } from '../vm/qemu.ts';

test('image key: the same inputs give the same key; any changed input a new one', () => {
  const base = { kernelDebSha256: 'a'.repeat(64), busyboxSha256: 'b'.repeat(64), init: INIT_SCRIPT, modules: VIRTIO_NET_MODULES, format: IMAGE_FORMAT };
  const k = imageKey(base);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(imageKey({ ...base }), k);
  for (const changed of [{ kernelDebSha256: 'c'.repeat(64) }, { busyboxSha256: 'c'.repeat(64) }, { init: `${INIT_SCRIPT}#\n` }, { modules: VIRTIO_NET_MODULES.slice(1) }, { format: IMAGE_FORMAT + 1 }]) {
    assert.notEqual(imageKey({ ...base, ...changed }), k, JSON.stringify(Object.keys(changed)));
  }
});

test('the kernel package is the one the cloud metapackage depends on', () => {
  assert.equal(parseKernelDepends('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n'), 'linux-image-6.1.0-57-cloud-amd64');
  assert.equal(parseKernelDepends('linux-image-cloud-amd64\n'), undefined);
  assert.equal(defaultCacheDir({ SCORE_CACHE_DIR: '/x' }), '/x');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/score');
});

test('virtio-net modules load after what they need', () => {
  const at = (m: string): number => VIRTIO_NET_MODULES.indexOf(m as (typeof VIRTIO_NET_MODULES)[number]);
  for (const [dep, mod] of [['virtio_ring', 'virtio'], ['virtio', 'virtio_pci'], ['virtio_pci_modern_dev', 'virtio_pci'], ['virtio_pci_legacy_dev', 'virtio_pci'], ['failover', 'net_failover'], ['net_failover', 'virtio_net'], ['virtio_pci', 'virtio_net']] as const) {
    assert.ok(at(dep) >= 0 && at(dep) < at(mod), `${dep} before ${mod}`);
  }
});

test('guest command line: address and one score.flow per flow (ICMP payload = packet - 28, interval = 1/pps)', () => {
  assert.equal(
    guestCmdline('10.0.0.1/24', [{ dst: '10.0.0.6', packetBytes: 50, pps: 10 }, { dst: '10.0.0.7', packetBytes: 1000, pps: 3 }]),
    'console=ttyS0 panic=-1 quiet score.ip=10.0.0.1/24 score.flow=10.0.0.6,22,0.1 score.flow=10.0.0.7,972,0.333',
  );
  assert.equal(guestCmdline('10.0.0.1/24', [], { pages: 64, everyMs: 50 }), 'console=ttyS0 panic=-1 quiet score.ip=10.0.0.1/24 score.dirty=64,50');
  for (const bad of [() => guestCmdline('10.0.0.1/24', [], { pages: 0, everyMs: 50 }), () => guestCmdline('10.0.0.1/24', [], { pages: 300, everyMs: 50 }), () => guestCmdline('10.0.0.1'), () => guestCmdline('10.0.0.1/24', [{ dst: 'x; reboot', packetBytes: 50, pps: 1 }]), () => guestCmdline('10.0.0.1/24', [{ dst: '10.0.0.2', packetBytes: 20, pps: 1 }]), () => guestCmdline('10.0.0.1/24', [{ dst: '10.0.0.2', packetBytes: 50, pps: 0 }])]) {
    assert.throws(bad, (e) => isScoreError(e, 'SCENARIO_INVALID'));
  }
});

test('QEMU command line: TCG with a small translation cache, the tap, the scenario MAC, QMP; -incoming only for a destination', () => {
  const spec = { vm: 'vm1', image: { kernel: '/k', initrd: '/i' }, mac: '00:00:00:00:00:01', cidr: '10.0.0.1/24' };
  const place = { netns: 'sc0000-ovs', tap: 'sc0000-hv16-e2', dir: '/r', tag: 'hv16-0' };
  const paths = { qmp: '/r/q', serial: '/r/s', pidfile: '/r/p', control: '/r/c' };
  const a = qemuArgs(spec, place, paths, false);
  const after = (flag: string): string | undefined => a[a.indexOf(flag) + 1];
  assert.equal(after('-accel'), 'tcg,tb-size=32');
  assert.equal(after('-m'), '96');
  assert.match(after('-netdev') ?? '', /^tap,id=n0,ifname=sc0000-hv16-e2,script=no,downscript=no,vnet_hdr=off$/);
  assert.match(after('-device') ?? '', /mac=00:00:00:00:00:01/);
  assert.match(after('-append') ?? '', /score\.ip=10\.0\.0\.1\/24/);
  // ttyS1: the control channel (schedule and start), on source and destination alike
  assert.deepEqual(a.filter((x, i) => a[i - 1] === '-serial'), ['file:/r/s', 'chardev:control']);
  assert.equal(after('-chardev'), 'socket,id=control,path=/r/c,server=on,wait=off');
  assert.ok(!a.includes('-incoming'), '!a.includes(\'-incoming\')');
  assert.deepEqual(qemuArgs(spec, place, paths, true).slice(-2), ['-incoming', 'defer']);
  // a panicked guest ends QEMU instead of rebooting into a schedule-less /init; the destination of
  // a migration has the same option (QEMU does not migrate it, but the guest must behave alike)
  assert.ok(a.includes('-no-reboot'), 'a.includes(\'-no-reboot\')');
  assert.deepEqual(qemuArgs(spec, place, paths, true).slice(0, -2), a);
});

test('guest schedule: one seg line per segment (ms from the start, the flows as ping arguments), then go with the elapsed ms', () => {
  assert.deepEqual(
    scheduleLines([{ startSec: 0, flows: [{ dst: '10.0.0.6', packetBytes: 50, pps: 10 }] }, { startSec: 120, flows: [{ dst: '10.0.0.10', packetBytes: 50, pps: 10 }, { dst: '10.0.0.7', packetBytes: 1000, pps: 3 }] }, { startSec: 200.5, flows: [] }], 1234.4),
    ['seg 0 10.0.0.6,22,0.1', 'seg 120000 10.0.0.10,22,0.1 10.0.0.7,972,0.333', 'seg 200500', 'go 1234'],
  );
  for (const bad of [
    () => scheduleLines([], 0),
    () => scheduleLines([{ startSec: 1, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }, { startSec: 0, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }], -1),
    () => scheduleLines([{ startSec: 0, flows: [{ dst: '10.0.0.2; reboot', packetBytes: 50, pps: 1 }] }], 0),
  ]) {
    assert.throws(bad, (e) => isScoreError(e, 'SCENARIO_INVALID'));
  }
});

test('guest schedule: starts closer than 1 ms merge into one line, the later segment kept', () => {
  const f = (dst: string): { dst: string; packetBytes: number; pps: number } => ({ dst, packetBytes: 50, pps: 10 });
  assert.deepEqual(
    scheduleLines([{ startSec: 0, flows: [f('10.0.0.2')] }, { startSec: 0.0004, flows: [f('10.0.0.3')] }, { startSec: 1.0001, flows: [] }, { startSec: 1.0003, flows: [f('10.0.0.4')] }, { startSec: 2, flows: [] }], 0),
    ['seg 0 10.0.0.3,22,0.1', 'seg 1000 10.0.0.4,22,0.1', 'seg 2000', 'go 0'],
  );
  // going back in time is still an error, also within one millisecond
  assert.throws(() => scheduleLines([{ startSec: 0, flows: [] }, { startSec: 1.0004, flows: [] }, { startSec: 1.0002, flows: [] }], 0), (e) => isScoreError(e, 'SCENARIO_INVALID'));
});

test('guest schedule: times past MAX_SCHEDULE_MS are SCENARIO_INVALID (no exponent notation reaches the shell)', () => {
  assert.deepEqual(scheduleLines([{ startSec: 0, flows: [] }, { startSec: MAX_SCHEDULE_MS / 1000, flows: [] }], MAX_SCHEDULE_MS), ['seg 0', `seg ${MAX_SCHEDULE_MS}`, `go ${MAX_SCHEDULE_MS}`]);
  for (const bad of [
    () => scheduleLines([{ startSec: 0, flows: [] }, { startSec: 1e18, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }, { startSec: MAX_SCHEDULE_MS / 1000 + 1, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }, { startSec: Infinity, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }, { startSec: NaN, flows: [] }], 0),
    () => scheduleLines([{ startSec: 0, flows: [] }], 1e21),
  ]) {
    assert.throws(bad, (e) => isScoreError(e, 'SCENARIO_INVALID'));
  }
  for (const line of scheduleLines([{ startSec: 0, flows: [] }, { startSec: MAX_SCHEDULE_MS / 1000, flows: [] }], 0)) assert.match(line, /^(seg|go) \d+$/);
});

test('/init prints CONTROL_CLOSED_LINE instead of READY_LINE when ttyS1 did not open', () => {
  assert.match(INIT_SCRIPT, /\[ -e \/tmp\/control-open \] \|\| control_closed=1/);
  assert.ok(INIT_SCRIPT.includes(`if [ -n "$control_closed" ]; then echo "${CONTROL_CLOSED_LINE}"; else echo "${READY_LINE}"; fi`), 'INIT_SCRIPT.includes(`if [ -n "$control_closed" ]; then echo "${CONTROL_CLOSED_LINE}"; ...');
  assert.ok(!CONTROL_CLOSED_LINE.includes(READY_LINE), '!CONTROL_CLOSED_LINE.includes(READY_LINE)');
});
