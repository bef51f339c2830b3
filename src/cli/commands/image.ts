import type { Command } from 'commander';
import { buildImage, defaultCacheDir } from '../../image/build.ts';

/** `score image build`: the QEMU guest image from Debian packages (src/image/build.ts), cached by content. */
export function registerImage(program: Command): void {
  const image = program.command('image').description('the QEMU guest image (kernel + busybox initramfs) built from Debian packages');
  image
    .command('build')
    .description('build the guest image, or find it in the cache when its inputs are unchanged')
    .option('--cache-dir <dir>', 'where images and downloaded .debs are kept (default $SCORE_CACHE_DIR, $XDG_CACHE_HOME/score or ~/.cache/score)')
    .option('--force', 'rebuild even when the cache holds an image for these inputs')
    .option('--kernel-package <name>', 'kernel package (default: what linux-image-cloud-amd64 depends on)')
    .action(async (o: { cacheDir?: string; force?: boolean; kernelPackage?: string }) => {
      const t0 = performance.now();
      const img = await buildImage({ cacheDir: o.cacheDir ?? defaultCacheDir(), force: o.force === true, ...(o.kernelPackage !== undefined ? { kernelPackage: o.kernelPackage } : {}) });
      console.log(`${img.built ? 'Built' : 'Cached'} guest image ${img.key.slice(0, 16)} (${img.kernelPackage}) in ${Math.round(performance.now() - t0)} ms`);
      console.log(`  kernel  ${img.kernel}`);
      console.log(`  initrd  ${img.initrd}`);
    });
}
