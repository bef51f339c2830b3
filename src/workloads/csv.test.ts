import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTopology } from '../core/topology.ts';
import { fatTree } from '../topologies/generate.ts';
import { isScoreError, type ErrorCode } from '../errors/errors.ts';
import { readPlacementCsv, readTrafficCsv } from './csv.ts';
import { placeFromFile } from './placement.ts';
import { generateWorkload } from './workload.ts';

const FT4 = (() => {
  const g = fatTree(4);
  return buildTopology(g.nodes, g.links);
})();

/** The error must carry the code, and its message the file, the line and the given fragment. */
function failsWith(fn: () => unknown, code: ErrorCode, file: string, line: number | null, fragment: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isScoreError(e, code), `expected ${code}, got ${String(e)}`);
    const where = line === null ? `${file}:` : `${file}:${line}:`;
    assert.ok(e.message.includes(where), `"${e.message}" names ${where}`);
    assert.ok(e.message.includes(fragment), `"${e.message}" says ${fragment}`);
    return true;
  });
}

test('traffic matrix: bytes/s or a bandwidth with a unit, repeated pairs summed, comments and blanks skipped', () => {
  const csv = readTrafficCsv('# from the collector\nsrc,dst,rate\nvm1,vm2,1000\n\nvm2,vm3,8Mbps\nvm1,vm2,500\nvm3,vm1, 2.5 kB/s \n', 't.csv');
  assert.equal(csv.kind, 'matrix');
  assert.deepEqual(csv.vms, ['vm1', 'vm2', 'vm3']);
  assert.deepEqual(csv.flows, [
    { src: 'vm1', dst: 'vm2', rate: 1500 },
    { src: 'vm2', dst: 'vm3', rate: 1e6 },
    { src: 'vm3', dst: 'vm1', rate: 2500 },
  ]);
});

test('flow trace: each pair gets its bytes over the whole trace duration', () => {
  const text = 'time,src,dst,bytes\n0,a,b,1000\n2.5,a,b,3000\n5,b,c,500\n10,a,b,1000\n';
  const csv = readTrafficCsv(text, 'trace.csv');
  assert.equal(csv.kind, 'trace');
  assert.equal(csv.durationSec, 10);
  assert.deepEqual(csv.flows, [
    { src: 'a', dst: 'b', rate: 500 },
    { src: 'b', dst: 'c', rate: 50 },
  ]);
  // A capture window longer than the records (quiet tail) is the operator's to state.
  assert.equal(readTrafficCsv(text, 'trace.csv', { durationSec: 100 }).flows[0]!.rate, 50);
});

test('malformed traffic files name the file, the line and what was expected', () => {
  const cases: [string, number, string][] = [
    ['', 1, 'header'],
    ['vm1,vm2,100\n', 1, 'expected a header "src,dst,rate"'],
    ['src,dst,rate\n', 1, 'no data rows'],
    ['src,dst,rate\nvm1,vm2,100\nvm1,vm2\n', 3, 'expected 3 fields'],
    ['src,dst,rate\nvm1,vm2,100\n\nvm1,vm3,fast\n', 4, 'rate "fast"'],
    ['src,dst,rate\nvm1,,100\n', 2, 'field 2 (dst) is empty'],
    ['src,dst,rate\nvm1,vm1,100\n', 2, 'two different VMs'],
    ['src,dst,rate\nvm1,vm2,-5\n', 2, 'rate "-5"'],
    ['time,src,dst,bytes\nsoon,a,b,10\n', 2, 'time "soon"'],
    ['time,src,dst,bytes\n1,a,b,-1\n', 2, 'bytes "-1"'],
    ['time,src,dst,bytes\n1,a,b,10\n1,b,c,10\n', 1, 'spans 0 s'],
  ];
  for (const [text, line, fragment] of cases) failsWith(() => readTrafficCsv(text, 'bad.csv'), 'WORKLOAD_PARSE', 'bad.csv', line, fragment);
});

test('placement files: header, fields, unknown VMs and hypervisors, duplicates, capacity, missing VMs', () => {
  failsWith(() => readPlacementCsv('vm,host\nvm1,h1\n', 'p.csv'), 'WORKLOAD_PARSE', 'p.csv', 1, 'expected a header "vm,hypervisor"');
  failsWith(() => readPlacementCsv('vm,hypervisor\nvm1,h1,extra\n', 'p.csv'), 'WORKLOAD_PARSE', 'p.csv', 2, 'expected 2 fields');
  const cap = new Map([
    ['h1', 1],
    ['h2', 2],
  ]);
  const vms = ['vm1', 'vm2', 'vm3'];
  const place = (text: string): Map<string, string> => placeFromFile(vms, readPlacementCsv(text, 'p.csv'), cap, 'p.csv');
  assert.deepEqual([...place('vm,hypervisor\nvm1,h1\nvm2,h2\nvm3,h2\n')], [
    ['vm1', 'h1'],
    ['vm2', 'h2'],
    ['vm3', 'h2'],
  ]);
  failsWith(() => place('vm,hypervisor\nvm1,h1\nvm9,h2\n'), 'UNKNOWN_VM', 'p.csv', 3, '"vm9"');
  failsWith(() => place('vm,hypervisor\nvm1,h7\n'), 'UNKNOWN_HYPERVISOR', 'p.csv', 2, '"h7"');
  failsWith(() => place('vm,hypervisor\nvm1,h2\nvm1,h1\n'), 'WORKLOAD_INVALID', 'p.csv', 3, 'second time');
  failsWith(() => place('vm,hypervisor\nvm1,h1\nvm2,h1\n'), 'CAPACITY_EXCEEDED', 'p.csv', 3, 'capacity is 1');
  failsWith(() => place('vm,hypervisor\nvm1,h1\nvm2,h2\n'), 'WORKLOAD_INVALID', 'p.csv', null, '"vm3"');
});

test('a CSV workload with a placement file is validated against the topology as a whole', () => {
  const traffic = { text: 'src,dst,rate\nweb,db,10MB/s\ndb,cache,1000\n', fileName: 'm.csv' };
  const w = generateWorkload(FT4, {
    model: 'csv',
    trafficFile: traffic,
    slotsPerHypervisor: 2,
    seed: 1,
    placement: 'file',
    placementFile: { text: 'vm,hypervisor\nweb,h1\ndb,h16\ncache,h16\n', fileName: 'p.csv' },
  });
  assert.deepEqual(w.vms, ['web', 'db', 'cache']);
  assert.equal(w.flows[0]!.rate, 10e6);
  assert.equal(w.placement.get('db'), 'h16');
  // h17 does not exist in a fat-tree(4) (16 hosts): the whole workload is refused.
  failsWith(
    () => generateWorkload(FT4, { model: 'csv', trafficFile: traffic, slotsPerHypervisor: 2, seed: 1, placement: 'file', placementFile: { text: 'vm,hypervisor\nweb,h1\ndb,h17\ncache,h2\n', fileName: 'p.csv' } }),
    'UNKNOWN_HYPERVISOR',
    'p.csv',
    3,
    '"h17"',
  );
  // Packed and random placements of a CSV workload need no file and respect the slots.
  const packed = generateWorkload(FT4, { model: 'csv', trafficFile: traffic, slotsPerHypervisor: 1, seed: 1, placement: 'packed' });
  assert.equal(new Set(packed.placement.values()).size, 3);
});
