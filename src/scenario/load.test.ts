import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadScenarioFile, MAX_SCHEMA_ERRORS, parseScenario, resolveScenarioPath, SCENARIO_DIR } from './load.ts';
import { isScoreError, type ScoreError } from '../errors/errors.ts';
import { parseBandwidth } from './bandwidth.ts';
import { Settings } from 'typebox/system';

const paperText = readFileSync(join(SCENARIO_DIR, 'paper.yaml'), 'utf8');

function invalid(mutate: (s: Record<string, unknown>) => void, file = 'broken.yaml'): ScoreError {
  const data = parse(paperText) as Record<string, unknown>;
  mutate(data);
  try {
    parseScenario(stringify(data), file);
  } catch (e) {
    if (isScoreError(e)) return e;
    throw e;
  }
  assert.fail('expected the scenario to be refused');
}

function problems(e: ScoreError): { path: string; message: string }[] {
  return e.details.problems as { path: string; message: string }[];
}

test("the paper's scenario matches DESIGN.md: 10 switches, 8 hypervisors, 24 VMs, Table II's 6 flows", () => {
  const { model, scenario } = loadScenarioFile('paper');
  assert.equal(scenario.switches.length, 10);
  assert.deepEqual(model.topology.hypervisors, ['hv16', 'hv17', 'hv18', 'hv19', 'hv20', 'hv21', 'hv22', 'hv23']);
  assert.equal(model.vms.length, 24);
  assert.equal(model.vmInfo.get('vm10')?.mac, '00:00:00:00:00:0a');
  assert.equal(model.vmInfo.get('vm10')?.ip, '10.0.0.10');
  assert.equal(model.placement.get('vm24'), 'hv22');
  assert.equal(model.placement.get('vm21'), 'hv23');
  assert.deepEqual(model.flows.map((f) => `${f.src}>${f.dst}`), ['vm1>vm6', 'vm2>vm10', 'vm3>vm23', 'vm6>vm11', 'vm9>vm22', 'vm21>vm5']);
  assert.ok(model.flows.every((f) => f.rate === 500), 'model.flows.every((f) => f.rate === 500)');
  assert.equal(model.topology.linkById.get('a1-c1')?.capacityBps, 2.5e6);
  assert.equal(model.topology.linkById.get('a1-t1')?.capacityBps, 5e6);
  assert.equal(model.topology.linkById.get('hv16-t1')?.capacityBps, 10e6);
  assert.ok((scenario.assumptions ?? []).length >= 5, 'the assumptions are written in the file');
  assert.ok(model.vms.every((vm, i) => vm === `vm${i + 1}`), 'MAC order is VM number order');
});

test('a malformed scenario names the file, the field and what was expected', () => {
  const e1 = invalid((s) => ((s.vms as { host: string }[])[3]!.host = 'hv99'));
  assert.equal(e1.code, 'SCENARIO_INVALID');
  assert.match(e1.message, /^broken\.yaml: /);
  assert.deepEqual(problems(e1), [{ path: '/vms/3/host', message: 'expected a hypervisor id, got "hv99"' }]);

  const e2 = invalid((s) => ((s.links as { capacity: unknown }[])[0]!.capacity = 'fast'));
  assert.ok(problems(e2).some((p) => p.path === '/links/0/capacity' && /10Mbps/.test(p.message)), JSON.stringify(problems(e2)));

  const e3 = invalid((s) => ((s.vms as Record<string, unknown>[])[0]!.colour = 'red'));
  assert.ok(problems(e3).some((p) => p.path === '/vms/0' && /unknown field\(s\) "colour"/.test(p.message)), 'problems(e3).some((p) => p.path === \'/vms/0\' && /unknown field\\(s\\) "colour"/.test(p.me...');

  const e4 = invalid((s) => delete s.hypervisors);
  assert.ok(problems(e4).some((p) => /missing required field\(s\) "hypervisors"/.test(p.message)), 'problems(e4).some((p) => /missing required field\\(s\\) "hypervisors"/.test(p.message))');

  const e5 = invalid((s) => ((s.vms as { mac: string }[])[1]!.mac = '00:00:00:00:00:01'));
  assert.deepEqual(problems(e5), [{ path: '/vms/1/mac', message: 'MAC 00:00:00:00:00:01 is used twice' }]);

  const e6 = invalid((s) => ((s.traffic as { dst: string }[])[0]!.dst = 'vm99'));
  assert.deepEqual(problems(e6), [{ path: '/traffic/0/dst', message: 'expected a VM name, got "vm99"' }]);

  const e7 = invalid((s) => ((s.hypervisors as { capacity?: number }[])[0]!.capacity = 2));
  assert.deepEqual(problems(e7), [{ path: '/hypervisors/0', message: 'hosts 3 VMs but its capacity is 2' }]);

  const e8 = invalid((s) => ((s.links as unknown[]).length = 0));
  assert.ok(problems(e8).some((p) => p.path === '/links'), 'problems(e8).some((p) => p.path === \'/links\')');

  const e9 = invalid((s) => (s.weights = { links: { 'c1-zz': 4 } }));
  assert.ok(problems(e9).some((p) => p.path === '/weights/links/c1-zz'), 'problems(e9).some((p) => p.path === \'/weights/links/c1-zz\')');
  const e15 = invalid((s) => ((s.vms as { mac: string }[])[2]!.mac = '01:00:5e:00:00:01'));
  assert.deepEqual(problems(e15).map((p) => p.path), ['/vms/2/mac']);
  const e15b = invalid((s) => ((s.vms as { mac: string }[])[2]!.mac = '00:00:00:00:00:00'));
  assert.deepEqual(problems(e15b).map((p) => p.path), ['/vms/2/mac']);
  const e16 = invalid((s) => ((s.switches as { dpid?: string }[])[0]!.dpid = '0x0'));
  assert.deepEqual(problems(e16).map((p) => p.path), ['/switches/0/dpid']);
  const e9b = invalid((s) => (s.weights = { layers: { '1': 1, '7': 3 } }));
  assert.deepEqual(problems(e9b), [{ path: '/weights/layers/7', message: "no link is in layer 7 (this topology's link layers: 1, 2, 3)" }]);

  const e10 = invalid((s) => ((s.links as { a: string; b: string }[]) = (s.links as { a: string; b: string }[]).filter((l) => l.a !== 'hv23' && l.b !== 'hv23')));
  assert.deepEqual(problems(e10), [{ path: '/hypervisors/7', message: '"hv23" is not connected to "hv16"' }]);

  const e12 = invalid((s) => ((s.hypervisors as { dpid?: string }[])[1]!.dpid = '0x0000000000000c01'));
  assert.deepEqual(problems(e12), [{ path: '/hypervisors/1/dpid', message: 'datapath id 0x0000000000000c01 is already used by "c1"' }]);

  const e11 = invalid((s) => ((s.traffic as Record<string, unknown>[])[0]!.rate = '1Mbps'));
  assert.ok(problems(e11).some((p) => /not both/.test(p.message)), 'problems(e11).some((p) => /not both/.test(p.message))');

  // a bandwidth the pattern accepts but a double cannot hold: Infinity would make every cost Infinity
  const huge = `${'9'.repeat(400)}kbps`;
  const e13 = invalid((s) => ((s.links as { capacity: unknown }[])[0]!.capacity = huge));
  assert.deepEqual(problems(e13).map((p) => p.path), ['/links/0/capacity']);
  const e14 = invalid((s) => {
    const t = (s.traffic as Record<string, unknown>[])[0]!;
    delete t.packetBytes;
    delete t.pps;
    t.rate = huge;
  });
  assert.deepEqual(problems(e14), [{ path: '/traffic/0', message: 'the rate is too large to be a number' }]);
});

test('a file that is not YAML or JSON gets SCENARIO_PARSE with the file name', () => {
  assert.throws(() => parseScenario('name: [unclosed', 'x.yaml'), (e) => isScoreError(e, 'SCENARIO_PARSE') && e.message.startsWith('x.yaml: not valid YAML'));
  assert.throws(() => parseScenario('{"name": ', 'x.json'), (e) => isScoreError(e, 'SCENARIO_PARSE') && e.message.startsWith('x.json: not valid JSON'));
  assert.throws(() => resolveScenarioPath('no-such-scenario'), (e) => isScoreError(e, 'SCENARIO_NOT_FOUND'));
  // a directory is not a scenario (it was read as one: a raw EISDIR)
  assert.throws(() => resolveScenarioPath(SCENARIO_DIR), (e) => isScoreError(e, 'SCENARIO_NOT_FOUND') && /is a directory/.test(e.message));
  assert.throws(() => resolveScenarioPath(join(SCENARIO_DIR, 'paper.yaml', 'x')), (e) => isScoreError(e, 'SCENARIO_NOT_FOUND') && /ENOTDIR/.test(e.message));
});

test('JSON scenarios are read too', () => {
  const s = parseScenario(JSON.stringify(parse(paperText)), 'paper.json');
  assert.equal(s.name, 'paper');
});

test('bandwidths: numbers are bits/s; units bps, kbps, Mbps, Gbps, B/s', () => {
  assert.equal(parseBandwidth(1500), 1500);
  assert.equal(parseBandwidth('2.5Mbps'), 2.5e6);
  assert.equal(parseBandwidth('4 kbps'), 4000);
  assert.equal(parseBandwidth('1Gbps'), 1e9);
  assert.equal(parseBandwidth('500B/s'), 4000);
  assert.throws(() => parseBandwidth('fast'));
});

test('every schema problem of a file is reported, not the first few; a bad bandwidth is one line', () => {
  const e = invalid((s) => {
    for (const vm of s.vms as Record<string, unknown>[]) vm.colour = 'red';
    for (const l of s.links as Record<string, unknown>[]) l.capacity = '10 furlongs';
  });
  const ps = problems(e);
  const vms = ps.filter((p) => /^\/vms\/\d+$/.test(p.path) && /unknown field\(s\) "colour"/.test(p.message));
  assert.equal(vms.length, 24, `every VM's unknown field: ${JSON.stringify(ps.slice(0, 5))}`);
  const links = (parse(paperText) as { links: unknown[] }).links.length;
  const caps = ps.filter((p) => /^\/links\/\d+\/capacity$/.test(p.path));
  assert.equal(caps.length, links, 'one problem per bad capacity, every link named');
  assert.ok(caps.every((p) => /10Mbps/.test(p.message)), `the friendly message only: ${JSON.stringify(caps[0])}`);
  assert.match(e.message, new RegExp(`: ${24 + links} problem\\(s\\):`));
});

test('past MAX_SCHEMA_ERRORS the message says the list is cut', () => {
  const e = invalid((s) => {
    const vms = s.vms as Record<string, unknown>[];
    for (let i = 0; i < MAX_SCHEMA_ERRORS; i++) vms.push({ name: `x${i}`, ip: 'nope', mac: 'nope', host: 'hv16' });
  });
  assert.match(e.message, /or more problems \(the first \d+\)/);
});

test('a bad value of a union of constants says the allowed values, not the bandwidth message; TypeBox settings are restored', () => {
  const e = invalid((s) => {
    const t = s.traffic as Record<string, unknown>[];
    t[0]!.generator = 'foo';
    t[1]!.protocol = 'sctp';
  });
  const ps = problems(e);
  assert.deepEqual(
    ps.filter((p) => /^\/traffic\/[01]\//.test(p.path)),
    [
      { path: '/traffic/0/generator', message: 'must be one of nping, iperf3' },
      { path: '/traffic/1/protocol', message: 'must be one of tcp, udp' },
    ],
  );
  assert.equal(Settings.Get().maxErrors, 8, "TypeBox's global setting is back to its default after a failing parse");
});
