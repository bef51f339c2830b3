/**
 * A run that crashes: builds a tiny data centre with one QEMU guest and one libvirtd, prints
 * their prefix and PIDs as one JSON line, then waits to be killed (clean.system.test.ts kills it
 * with SIGKILL, so none of its own cleanup runs).
 */
import { parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { buildDataCentre } from '../emulation/datacentre.ts';
import { buildImage } from '../image/build.ts';
import { fleetOf, guestInsteadOfNamespace } from './fleet.ts';
import { startLibvirtFleet } from './libvirt-fleet.ts';

const model = buildModel(
  parseScenario(
    `
name: crashed
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: g1, ip: 10.9.4.1, mac: "02:00:00:00:04:01", host: h1 }
traffic: []
`,
    'crashed.yaml',
  ),
);
const image = await buildImage();
const dc = await buildDataCentre(model, { controller: 'tcp:127.0.0.1:9', shape: false });
const g = await guestInsteadOfNamespace(dc, model, 'g1', { image, memoryMiB: 96 });
const lv = await startLibvirtFleet(dc, ['h2']);
console.log(JSON.stringify({ prefix: dc.prefix, runDir: fleetOf(dc).ovs.paths.runDir, qemu: g.pid, libvirtd: lv.hosts.get('h2')!.pid() }));
setInterval(() => undefined, 1 << 30);
