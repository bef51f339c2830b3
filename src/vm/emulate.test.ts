import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenarioFile, parseScenario } from '../scenario/load.ts';
import { buildModel } from '../scenario/model.ts';
import { isScoreError } from '../errors/errors.ts';
import { guestVms, vmKind } from './emulate.ts';
import { parseVms } from '../cli/commands/emulate.ts';
import { qemuFiguresTable } from './report.ts';

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
