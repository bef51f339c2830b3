/**
 * The guest image built for real from Debian packages (apt-get download + dpkg-deb + busybox
 * cpio), into a scratch cache. Needs apt-get, dpkg-deb and busybox-static; mandatory in CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { systemTestGate, findTool } from '../emulation/system-gate.ts';
import { buildImage } from './build.ts';
import { INIT_SCRIPT, VIRTIO_NET_MODULES } from './guest.ts';

const gate = systemTestGate({ tools: ['apt-get', 'apt-cache', 'dpkg-deb', 'busybox'] });
const skip = gate.skip === false ? false : gate.skip;

test('image: built from the kernel .deb and busybox, cached by content, rebuilt when an input changes', { skip, timeout: 300_000 }, async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'score-image-test-'));
  try {
    const first = await buildImage({ cacheDir });
    assert.equal(first.built, true);
    assert.match(first.kernelPackage, /^linux-image-.*-cloud-amd64$/);
    assert.ok(statSync(first.kernel).size > 1_000_000, 'a kernel');
    // the initramfs is a newc cpio ("070701") holding /init, busybox and the modules in order
    const cpio = gunzipSync(readFileSync(first.initrd));
    assert.equal(cpio.subarray(0, 6).toString(), '070701');
    const text = cpio.toString('latin1');
    for (const name of ['init', 'bin/busybox', ...VIRTIO_NET_MODULES.map((m) => `lib/modules/${m}.ko`)]) assert.ok(text.includes(`${name}\0`), `initramfs holds ${name}`);
    assert.ok(text.includes(INIT_SCRIPT), 'the init script as written');
    const again = await buildImage({ cacheDir });
    assert.deepEqual({ ...again, built: true }, first, 'same key, same files');
    assert.equal(again.built, false, 'taken from the cache');
    // another busybox (one byte more) is another input: a new image beside the old one
    const bb = join(cacheDir, 'busybox');
    copyFileSync(findTool('busybox')!, bb);
    appendFileSync(bb, '\n');
    const changed = await buildImage({ cacheDir, busybox: bb });
    assert.equal(changed.built, true);
    assert.notEqual(changed.key, first.key);
    assert.ok(existsSync(first.initrd) && existsSync(changed.initrd), 'existsSync(first.initrd) && existsSync(changed.initrd)');
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
