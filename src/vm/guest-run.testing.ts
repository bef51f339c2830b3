/**
 * What the QEMU and libvirt system tests share: the controller stack on a real OpenFlow data
 * plane, an emulated data centre of the scenario connected to it, the guest image, and their
 * removal (also on failure), with the check that nothing of the run is left.
 */
import assert from 'node:assert/strict';
import { openflowDataPlane } from '../openflow/connection/index.ts';
import { silentLog } from '../openflow/connection/log.ts';
import { realClock } from '../runtime/clock.ts';
import { startStack, type Stack, type StackOptions } from '../system/stack.ts';
import { buildDataCentre, type DataCentre } from '../emulation/datacentre.ts';
import { listLinks, listNetns } from '../emulation/netns.ts';
import { buildImage, type GuestImage } from '../image/build.ts';
import type { Model } from '../scenario/model.ts';

export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export interface GuestRun {
  readonly stack: Stack;
  readonly dc: DataCentre;
  readonly image: GuestImage;
}

/**
 * Runs `fn` on a fresh stack + data centre of `model`; stops both afterwards, whatever happens,
 * and then asserts that no namespace or link of the run is left. Answers the run's prefix.
 */
export async function withGuestRun(model: Model, fn: (x: GuestRun) => Promise<void>, stackOptions: Partial<StackOptions> = {}): Promise<string> {
  const image = await buildImage();
  const dataPlane = openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog });
  const stack = await startStack({ model, dataPlane, clock: realClock, pollMs: 500, probeMs: 500, webDir: null, ...stackOptions });
  let dc: DataCentre | undefined;
  try {
    dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: false });
    await fn({ stack, dc, image });
  } finally {
    await dc?.stop();
    await stack.stop();
  }
  const prefix = dc.prefix;
  assert.deepEqual([...(await listNetns()), ...(await listLinks())].filter((n) => n.startsWith(`${prefix}-`)), [], 'nothing of the run is left');
  return prefix;
}
