import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destinationXml, domainXml, libvirtConfig, libvirtUri, parseJobInfo } from './libvirt.ts';
import { isScoreError } from '../errors/errors.ts';
import { virshMigrateArgs } from '../agent/drivers/libvirt.ts';

// `virsh domjobinfo g1 --completed` on the destination, libvirt 9.0 (this machine)
const JOBINFO = `Job type:         Completed
Operation:        Incoming migration
Time elapsed:     2323         ms
Time elapsed w/o network: 2322         ms
Data processed:   73.804 MiB
Data remaining:   0.000 B
Data total:       96.625 MiB
Memory processed: 73.804 MiB
Memory remaining: 0.000 B
Memory total:     96.625 MiB
Memory bandwidth: 100.119 MiB/s
Dirty rate:       0            pages/s
Page size:        4096         bytes
Iteration:        3
Total downtime:   600          ms
Downtime w/o network: 599          ms
Setup time:       4            ms
`;

test("libvirt's job info as migration figures", () => {
  assert.deepEqual(parseJobInfo(JOBINFO), {
    source: 'libvirt',
    totalTimeMs: 2323,
    downtimeMs: 600,
    setupTimeMs: 4,
    transferredBytes: Math.round(73.804 * 2 ** 20),
    dirtyPagesRate: 0,
    memoryBytes: Math.round(96.625 * 2 ** 20),
  });
  assert.deepEqual(parseJobInfo('Job type: None\n'), { source: 'libvirt', totalTimeMs: 0, downtimeMs: null, setupTimeMs: null, transferredBytes: 0, dirtyPagesRate: null, memoryBytes: null });
});

test('each libvirtd is its own host: its socket dir, its UUID; QEMU as root without virtlogd', () => {
  const c = libvirtConfig('/tmp/score-ovs-sc0000/libvirt/hv16', '6f1c1d8e-0000-4000-8000-000000000001');
  assert.match(c.libvirtd, /^unix_sock_dir = "\/tmp\/score-ovs-sc0000\/libvirt\/hv16\/sock"$/m);
  assert.match(c.libvirtd, /^host_uuid = "6f1c1d8e-0000-4000-8000-000000000001"$/m);
  assert.match(c.qemu, /^stdio_handler = "file"$/m);
  assert.equal(libvirtUri('/d'), 'qemu:///system?socket=/d/sock/libvirt-sock');
});

test('domain XML: type qemu, the image booted directly, the NIC an unmanaged tap, names escaped; the destination XML renames tap and log', () => {
  const xml = domainXml({ vm: 'vm<1>', image: { kernel: '/k', initrd: '/i' }, mac: '00:00:00:00:00:01', cidr: '10.0.0.1/24' }, { tap: 'sc0000-hv16-e2', serialLog: '/r/vm1.hv16.log' });
  assert.match(xml, /<domain type='qemu'>/);
  assert.match(xml, /<name>vm&lt;1&gt;<\/name>/);
  assert.match(xml, /<target dev='sc0000-hv16-e2' managed='no'\/>/);
  assert.match(xml, /<cmdline>console=ttyS0 panic=-1 quiet score\.ip=10\.0\.0\.1\/24<\/cmdline>/);
  assert.ok(!xml.includes('<graphics'), '!xml.includes(\'<graphics\')');
  const dest = destinationXml(xml, { fromTap: 'sc0000-hv16-e2', toTap: 'sc0000-hv17-e5', fromLog: '/r/vm1.hv16.log', toLog: '/r/vm1.hv17.log' });
  assert.match(dest, /<target dev='sc0000-hv17-e5' managed='no'\/>/);
  assert.match(dest, /path='\/r\/vm1\.hv17\.log'/);
  assert.throws(() => destinationXml(xml, { fromTap: 'other', toTap: 'x', fromLog: '', toLog: '' }), (e) => isScoreError(e, 'MIGRATION_FAILED'));
});

test('virsh migrate for the emulated hosts: source connection, migrate URI and destination XML', () => {
  const args = virshMigrateArgs('vm1', 'hv17', { uriFor: (h) => `qemu:///system?socket=/r/${h}/sock`, sourceUriFor: (h) => `qemu:///system?socket=/r/${h}/sock`, migrateUriFor: () => 'tcp://127.0.0.1', persistent: false }, { from: 'hv16', xmlPath: '/r/vm1-to-hv17.xml' });
  assert.deepEqual(args, ['-c', 'qemu:///system?socket=/r/hv16/sock', 'migrate', '--live', '--verbose', '--domain', 'vm1', '--desturi', 'qemu:///system?socket=/r/hv17/sock', '--migrateuri', 'tcp://127.0.0.1', '--xml', '/r/vm1-to-hv17.xml']);
  assert.throws(() => virshMigrateArgs('vm1', 'hv17', {}, { xmlPath: '--help' }), (e) => isScoreError(e, 'MIGRATION_FAILED'));
});
