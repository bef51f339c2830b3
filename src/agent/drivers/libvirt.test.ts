import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libvirtDriver, virshMigrateArgs } from './libvirt.ts';
import { isScoreError } from '../../errors/errors.ts';

test('virsh migrate command: live, persistent, to the destination URI', () => {
  assert.deepEqual(virshMigrateArgs('vm3', 'hv23'), ['migrate', '--live', '--verbose', '--persistent', '--undefinesource', '--domain', 'vm3', '--desturi', 'qemu+ssh://hv23/system']);
  assert.deepEqual(
    virshMigrateArgs('vm3', 'hv23', { uriFor: (h) => `qemu+tls://${h}.dc.example/system`, domainFor: (v) => `tenant-${v}`, persistent: false, timeoutSeconds: 60 }),
    ['migrate', '--live', '--verbose', '--timeout', '60', '--domain', 'tenant-vm3', '--desturi', 'qemu+tls://hv23.dc.example/system'],
  );
});

test('names that look like options or carry spaces are refused', () => {
  assert.throws(() => virshMigrateArgs('--help', 'hv1'), (e) => isScoreError(e, 'MIGRATION_FAILED'));
  assert.throws(() => virshMigrateArgs('vm1', 'hv 1'), (e) => isScoreError(e, 'MIGRATION_FAILED'));
});

test('a failing virsh is a MIGRATION_FAILED with its stderr', async () => {
  const d = libvirtDriver({ virsh: '/bin/false' });
  await assert.rejects(d.migrate('vm1', 'hv1', 'hv2'), (e) => isScoreError(e, 'MIGRATION_FAILED'));
  const missing = libvirtDriver({ virsh: '/nonexistent/virsh' });
  await assert.rejects(missing.migrate('vm1', 'hv1', 'hv2'), (e) => isScoreError(e, 'MIGRATION_FAILED'));
});
