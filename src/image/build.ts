/**
 * The guest image, built on this machine from Debian packages only, never downloaded whole:
 * - kernel: `linux-image-<version>-cloud-amd64`, the version the metapackage
 *   `linux-image-cloud-amd64` names, fetched with `apt-get download` and unpacked with
 *   `dpkg-deb -x` (never installed on the host);
 * - the virtio network modules from the same package (guest.ts lists them in load order);
 * - userland: the host's `busybox-static` binary, and /init from guest.ts.
 * The initramfs is packed with `busybox cpio -o -H newc` and gzipped.
 *
 * Cache: `<cacheDir>/images/<key>/{vmlinuz,initrd.img,manifest.json}`, where key is the SHA-256 of
 * every input (kernel .deb bytes, busybox bytes, init script, module list, format version), so a
 * new kernel package, busybox or init script gives a new image and an unchanged set reuses the
 * old one. Downloaded .debs are kept in `<cacheDir>/debs`. Default cacheDir: $SCORE_CACHE_DIR, else
 * $XDG_CACHE_HOME/score, else ~/.cache/score (outside the repository).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync, chmodSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { ScoreError, isScoreError } from '../errors/errors.ts';
import { run } from '../emulation/exec.ts';
import { findTool } from '../emulation/system-gate.ts';
import { INIT_SCRIPT, VIRTIO_NET_MODULES } from './guest.ts';

/** Bump when the layout of the initramfs changes in a way the inputs do not show. */
export const IMAGE_FORMAT = 1;
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

export interface GuestImage {
  readonly key: string;
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelPackage: string;
  readonly kernelVersion: string;
  /** false when the cache already held it */
  readonly built: boolean;
}

export interface ImageInputs {
  readonly kernelDebSha256: string;
  readonly busyboxSha256: string;
  readonly init: string;
  readonly modules: readonly string[];
  readonly format: number;
}

/** Content key of an image: SHA-256 (hex) over its inputs. Pure. */
export function imageKey(i: ImageInputs): string {
  return createHash('sha256').update(JSON.stringify([i.format, i.kernelDebSha256, i.busyboxSha256, i.init, [...i.modules]])).digest('hex');
}

/** The kernel package `apt-cache depends linux-image-cloud-amd64` names. Pure. */
export function parseKernelDepends(text: string): string | undefined {
  return /Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)\b/.exec(text)?.[1];
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SCORE_CACHE_DIR) return env.SCORE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'score');
}

const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function wrap(what: string, e: unknown): ScoreError {
  if (isScoreError(e, 'IMAGE_BUILD')) return e;
  return new ScoreError('IMAGE_BUILD', `${what}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
}

/** `apt-get download` into `dir` unless a .deb of that package is there already. */
async function kernelDeb(dir: string, pkg: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (have !== undefined) return join(dir, have);
  // into a scratch dir, then renamed: another process building at the same time never sees half a .deb
  const tmp = mkdtempSync(join(dir, '.download-'));
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('apt-get', ['download', pkg], { cwd: tmp, timeout: 300_000 }, (err, _out, stderr) => {
        if (err) reject(new ScoreError('IMAGE_BUILD', `apt-get download ${pkg} failed: ${stderr.trim() || err.message}`, { pkg }, { cause: err }));
        else resolve();
      });
    });
    const got = readdirSync(tmp).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (got === undefined) throw new ScoreError('IMAGE_BUILD', `apt-get download ${pkg} left no .deb`, { pkg });
    renameSync(join(tmp, got), join(dir, got));
    return join(dir, got);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface BuildImageOptions {
  readonly cacheDir?: string;
  /** rebuild even when the cache holds this key */
  readonly force?: boolean;
  /** kernel package; default: what the metapackage depends on */
  readonly kernelPackage?: string;
  readonly busybox?: string;
}

/**
 * Builds (or finds in the cache) the guest image. Needs apt-get, dpkg-deb and busybox-static.
 * @throws ScoreError IMAGE_BUILD naming the step that failed; a half-built image is never left
 *   under its key (it is built in a scratch dir and renamed into place).
 */
export async function buildImage(o: BuildImageOptions = {}): Promise<GuestImage> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const busybox = o.busybox ?? findTool('busybox');
  if (busybox === undefined) throw new ScoreError('IMAGE_BUILD', 'busybox is not installed (Debian package busybox-static)', {});
  // a dynamically linked busybox names its loader; the guest has no libc to load
  if (readFileSync(busybox).includes('/lib64/ld-linux')) {
    throw new ScoreError('IMAGE_BUILD', `${busybox} is not statically linked (install busybox-static)`, { busybox });
  }
  let pkg = o.kernelPackage;
  if (pkg === undefined) {
    const deps = await run('apt-cache', ['depends', KERNEL_METAPACKAGE]).catch((e: unknown) => {
      throw wrap(`apt-cache depends ${KERNEL_METAPACKAGE}`, e);
    });
    pkg = parseKernelDepends(deps.stdout);
    if (pkg === undefined) throw new ScoreError('IMAGE_BUILD', `${KERNEL_METAPACKAGE} names no kernel package (run apt-get update?)`, {});
  }
  const deb = await kernelDeb(join(cacheDir, 'debs'), pkg);
  const key = imageKey({ kernelDebSha256: sha256File(deb), busyboxSha256: sha256File(busybox), init: INIT_SCRIPT, modules: VIRTIO_NET_MODULES, format: IMAGE_FORMAT });
  const imagesDir = join(cacheDir, 'images');
  const dir = join(imagesDir, key);
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath) && o.force !== true) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { kernelPackage: string; kernelVersion: string };
    return { key, dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), kernelPackage: m.kernelPackage, kernelVersion: m.kernelVersion, built: false };
  }
  mkdirSync(imagesDir, { recursive: true });
  const scratch = mkdtempSync(join(imagesDir, '.build-'));
  try {
    const x = join(scratch, 'deb');
    await run('dpkg-deb', ['-x', deb, x], { timeoutMs: 120_000 }).catch((e: unknown) => {
      throw wrap(`dpkg-deb -x ${deb}`, e);
    });
    const vmlinuz = readdirSync(join(x, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (vmlinuz === undefined) throw new ScoreError('IMAGE_BUILD', `${pkg} holds no boot/vmlinuz-*`, { pkg });
    const kernelVersion = vmlinuz.slice('vmlinuz-'.length);
    const modRoot = join(x, 'lib', 'modules', kernelVersion);
    const root = join(scratch, 'root');
    for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(busybox, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    writeFileSync(join(root, 'init'), INIT_SCRIPT, { mode: 0o755 });
    const found = findModules(modRoot);
    for (const m of VIRTIO_NET_MODULES) {
      const path = found.get(m);
      if (path === undefined) throw new ScoreError('IMAGE_BUILD', `${pkg} has no module ${m}.ko (built into this kernel, or another layout?)`, { pkg, module: m });
      copyFileSync(path, join(root, 'lib', 'modules', `${m}.ko`));
    }
    const cpio = await packCpio(busybox, root);
    const out = join(scratch, 'out');
    mkdirSync(out);
    copyFileSync(join(x, 'boot', vmlinuz), join(out, 'vmlinuz'));
    writeFileSync(join(out, 'initrd.img'), gzipSync(cpio, { level: 6 }));
    writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({ key, kernelPackage: pkg, kernelVersion, deb: deb.split('/').pop(), modules: VIRTIO_NET_MODULES, format: IMAGE_FORMAT, initrdBytes: statSync(join(out, 'initrd.img')).size }, null, 2)}\n`);
    if (existsSync(manifestPath)) {
      // another process finished the same key meanwhile (same inputs, same image): keep theirs,
      // or a forced rebuild replaces it
      if (o.force !== true) return { key, dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), kernelPackage: pkg, kernelVersion, built: false };
      rmSync(dir, { recursive: true, force: true });
    }
    try {
      renameSync(out, dir);
    } catch (e) {
      if (!existsSync(manifestPath)) throw e;
      return { key, dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), kernelPackage: pkg, kernelVersion, built: false };
    }
    return { key, dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), kernelPackage: pkg, kernelVersion, built: true };
  } catch (e) {
    throw wrap('building the guest image', e);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Module name -> path of its .ko, for every module in the tree. */
function findModules(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) out.set(e.name.slice(0, -3), p);
    }
  };
  walk(dir);
  return out;
}

/** newc cpio of everything under `root`, paths relative to it (busybox cpio reads names on stdin). */
async function packCpio(busybox: string, root: string): Promise<Buffer> {
  const names: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      names.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('');
  return new Promise<Buffer>((resolve, reject) => {
    const child = execFile(busybox, ['cpio', '-o', '-H', 'newc'], { cwd: root, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new ScoreError('IMAGE_BUILD', `busybox cpio failed: ${stderr.toString().trim() || err.message}`, {}, { cause: err }));
      else resolve(stdout);
    });
    child.stdin?.end(`${names.join('\n')}\n`);
  });
}
