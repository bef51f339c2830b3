import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { isScoreError } from '../errors/errors.ts';
import { guestVms, vmKind } from './emulate.ts';
import { parseVms } from '../cli/commands/emulate.ts';
import { qemuFiguresTable } from './report.ts';
import { guestFlows, guestSegments } from './fleet.ts';

const yaml = (emulation: string): string => `
name: t
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }]
vms:
  - { name: a, ip: 10.0.0.1, mac: "02:00:00:00:00:01", host: h1 }
  - { name: b, ip: 10.0.0.2, mac: "02:00:00:00:00:02", host: h1 }
  - { name: c, ip: 10.0.0.3, mac: "02:00:00:00:00:03", host: h1 }
traffic: [{ src: c, dst: a, packetBytes: 50, pps: 10 }]
${emulation}`;

test('guests are the VMs at either end of a flow; the paper has 11 of its 24', () => {
  assert.deepEqual(guestVms(buildModel(parseScenario(yaml(''), 't.yaml'))), ['a', 'c']);
  assert.equal(guestVms(loadScenarioFile('paper').model).length, 11);
});

test('--vms wins over the scenario field, which wins over the default (namespace); bad values are CLI_USAGE / SCENARIO_INVALID', () => {
  const plain = buildModel(parseScenario(yaml(''), 't.yaml'));
  const qemu = buildModel(parseScenario(yaml('emulation: { vms: qemu, guestMemoryMiB: 128 }'), 't.yaml'));
  assert.equal(vmKind(plain, undefined), 'namespace');
  assert.equal(vmKind(qemu, undefined), 'qemu');
  assert.equal(vmKind(qemu, 'namespace'), 'namespace');
  assert.equal(vmKind(plain, 'qemu'), 'qemu');
  assert.equal(parseVms(undefined), undefined);
  assert.throws(() => parseVms('kvm'), (e) => isScoreError(e, 'CLI_USAGE'));
  assert.throws(() => parseScenario(yaml('emulation: { vms: kvm }'), 't.yaml'), (e) => isScoreError(e, 'SCENARIO_INVALID'));
});

test("the figures table: QEMU's numbers and the probes, '-' where nothing was measured", () => {
  const lines = qemuFiguresTable([
    { policy: 'load-aware', losses: [{ vm: 'vm3', to: 'hv23', sent: 200, received: 190, blackoutMs: 100, figures: { source: 'qemu', totalTimeMs: 912, downtimeMs: 142, setupTimeMs: 3, transferredBytes: 77_843_877, dirtyPagesRate: 0, memoryBytes: 101_195_776 } }, { vm: 'vm1', to: 'hv17', sent: 10, received: 10, blackoutMs: 0 }] },
  ]);
  assert.match(lines[2]!, /policy\s+vm\s+to\s+total ms\s+downtime ms/);
  assert.match(lines[3]!, /load-aware\s+vm3\s+hv23\s+912\s+142\s+3\s+77\.8\s+0\s+10\/200\s+100$/);
  assert.match(lines[4]!, /vm1\s+hv17\s+-\s+-\s+-\s+-\s+-\s+0\/10\s+0$/);
});

test('a guest follows the timeline: one segment per phase / trace change, each with the flows it sends then, in the scenario\'s packet shape', () => {
  const { model } = loadScenarioFile('paper-phases');
  const ip = (vm: string): string => model.vmInfo.get(vm)!.ip;
  assert.deepEqual(guestSegments(model, 'vm1'), [
    { startSec: 0, flows: [{ dst: ip('vm6'), packetBytes: 50, pps: 10 }] },
    { startSec: 120, flows: [{ dst: ip('vm10'), packetBytes: 50, pps: 10 }] },
  ]);
  // a destination only: silent in both segments, but a guest
  assert.deepEqual(guestSegments(model, 'vm5').map((s) => s.flows.length), [0, 0]);
  assert.deepEqual(guestFlows(model, 'vm1'), [{ dst: ip('vm6'), packetBytes: 50, pps: 10 }]);
  // a VM that sends only after a change (here a trace line: 1000-byte packets at its rate) is a guest too
  const traced = buildModel(parseScenario(yaml(''), 't.yaml'), [{ atSec: 30, set: [{ src: 'b', dst: 'a', rate: 2000 }] }, { atSec: 60, stop: [{ src: 'c', dst: 'a' }] }]);
  assert.deepEqual(guestVms(traced), ['a', 'b', 'c']);
  assert.deepEqual(guestSegments(traced, 'b'), [
    { startSec: 0, flows: [] },
    { startSec: 30, flows: [{ dst: '10.0.0.1', packetBytes: 1000, pps: 2 }] },
    { startSec: 60, flows: [{ dst: '10.0.0.1', packetBytes: 1000, pps: 2 }] },
  ]);
  assert.deepEqual(guestSegments(traced, 'c').map((s) => s.flows.length), [1, 1, 0]);
});
