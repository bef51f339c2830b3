import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libvirtDriver, virshMigrateArgs } from './libvirt.ts';
import { isScoreError, ScoreError } from '../../errors/errors.ts';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

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

test('virsh failing after the destination took over: domstate decides, and the destination side is kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-virsh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // a virsh whose migrate fails; domstate answers per URI from a file per end
  const fake = join(dir, 'virsh');
  // domstate: the answer file's content; "gone" is virsh's no-such-domain error; no file: no connection
  writeFileSync(fake, `#!/bin/sh\nuri=local\nif [ "$1" = "-c" ]; then uri="$2"; shift 2; fi\ncase "$1" in\n  migrate) echo "error: client timed out" >&2; exit 1;;\n  domstate) f="${dir}/$(echo "$uri" | tr -c 'a-z0-9\\n' _)"; [ -f "$f" ] || { echo "error: failed to connect to the hypervisor" >&2; exit 1; }; if [ "$(cat "$f")" = gone ]; then echo "error: failed to get domain 'vm1'" >&2; exit 1; fi; cat "$f";;\nesac\n`);
  chmodSync(fake, 0o755);
  const state = (uri: string, s: string): void => writeFileSync(join(dir, uri.replace(/[^a-z0-9]/g, '_')), `${s}\n`);
  const calls: string[] = [];
  const prepare = () => Promise.resolve({ commit: () => (calls.push('commit'), Promise.resolve()), abort: () => (calls.push('abort'), Promise.resolve()) });
  const d = libvirtDriver({ virsh: fake, uriFor: (h) => `test:///${h}`, sourceUriFor: (h) => `test:///${h}`, prepare });
  // running at the destination only: done, the destination's tap kept
  state('test:///hv1', 'shut off');
  state('test:///hv2', 'running');
  const done = await d.migrate('vm1', 'hv1', 'hv2');
  assert.match(done.warnings?.[0] ?? '', /taken as done/, 'a migration done, said so');
  assert.deepEqual(calls, ['commit']);
  // still running at the source: failed, the destination's side undone
  calls.length = 0;
  state('test:///hv1', 'running');
  state('test:///hv2', 'shut off');
  await assert.rejects(d.migrate('vm1', 'hv1', 'hv2'), (e) => isScoreError(e, 'MIGRATION_FAILED') && /client timed out/.test(e.message));
  assert.deepEqual(calls, ['abort']);
  // running at both: failed and said so
  calls.length = 0;
  state('test:///hv2', 'running');
  await assert.rejects(d.migrate('vm1', 'hv1', 'hv2'), (e) => isScoreError(e, 'MIGRATION_FAILED') && /runs at both hv1 and hv2/.test(e.message));
  // the source cannot be asked (no answer file): the destination's tap stays, nothing undone
  calls.length = 0;
  rmSync(join(dir, 'test____hv1'), { force: true });
  await assert.rejects(d.migrate('vm1', 'hv1', 'hv2'), (e) => isScoreError(e, 'MIGRATION_FAILED') && /state at hv1 is unknown/.test(e.message));
  assert.deepEqual(calls, [], 'neither committed nor aborted');
  // the source's domain is gone (undefined after the move, or transient): a migration done
  calls.length = 0;
  state('test:///hv1', 'gone');
  state('test:///hv2', 'running');
  const gone = await d.migrate('vm1', 'hv1', 'hv2');
  assert.match(gone.warnings?.[0] ?? '', /taken as done/, 'no domain at the source is an answer');
  assert.deepEqual(calls, ['commit']);
  // paused at the destination (libvirt still finishing): asked again until it settles
  calls.length = 0;
  state('test:///hv1', 'shut off');
  state('test:///hv2', 'paused');
  setTimeout(() => state('test:///hv2', 'running'), 1200);
  const late = await d.migrate('vm1', 'hv1', 'hv2');
  assert.match(late.warnings?.[0] ?? '', /taken as done/);
  assert.deepEqual(calls, ['commit']);
});

test('cluster mode: virsh migrate starts only once a leader is ready; no leader, nothing started', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-virsh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'calls');
  const fake = join(dir, 'virsh');
  writeFileSync(fake, `#!/bin/sh\necho "$@" >> ${log}\nexit 0\n`);
  chmodSync(fake, 0o755);
  const calls = (): string[] => {
    try {
      return readFileSync(log, 'utf8').trim().split('\n').filter((l) => l !== '');
    } catch {
      return [];
    }
  };
  const order: string[] = [];
  const prepare = () => (order.push('prepare'), Promise.resolve({ commit: () => Promise.resolve(), abort: () => Promise.resolve() }));
  const d = libvirtDriver({ virsh: fake, prepare });
  // a leader becomes ready after a while: virsh is not called before
  let ready!: () => void;
  const wait = new Promise<void>((r) => (ready = r));
  const migrating = d.migrate('vm1', 'hv1', 'hv2', {
    awaitControl: async () => {
      order.push('wait');
      await wait;
      order.push('ready');
      return () => Promise.reject(new Error('libvirt must not claim'));
    },
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(calls(), [], 'no virsh call while no leader is ready');
  ready();
  await migrating;
  assert.equal(calls().filter((c) => c.includes('migrate')).length, 1, 'one migrate once the leader is ready');
  assert.deepEqual(order, ['wait', 'ready', 'prepare'], 'the wait comes before anything is prepared');
  // no leader within the agent's bound: that error, and neither virsh nor prepare ran
  rmSync(log, { force: true });
  order.length = 0;
  await assert.rejects(
    d.migrate('vm1', 'hv1', 'hv2', { awaitControl: () => Promise.reject(new ScoreError('SWITCHOVER_NO_LEADER', 'no leader')) }),
    (e) => isScoreError(e, 'SWITCHOVER_NO_LEADER'),
  );
  assert.deepEqual(calls(), [], 'virsh never called');
  assert.deepEqual(order, [], 'nothing prepared');
});
