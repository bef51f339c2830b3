import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinkList, parseNetnsList, tbfArgs, vethArgs } from './netns.ts';

test('ip -j output parsers, including the empty output before any namespace exists', () => {
  assert.deepEqual(parseNetnsList(''), []);
  assert.deepEqual(parseNetnsList('[{"name":"sc1234-h1","id":0},{"name":"x"}]\n'), ['sc1234-h1', 'x']);
  assert.deepEqual(parseLinkList('[{"ifindex":1,"ifname":"lo"},{"ifindex":2,"ifname":"sc1234-s1-e1","link":"sc1234-h1-e0"}]'), [
    'lo',
    'sc1234-s1-e1',
  ]);
});

test('veth ends can be created straight inside namespaces', () => {
  assert.deepEqual(vethArgs('a', 'b'), ['link', 'add', 'a', 'type', 'veth', 'peer', 'name', 'b']);
  assert.deepEqual(vethArgs('a', 'b', { nsA: 'n1', nsB: 'n2' }), [
    'link', 'add', 'a', 'netns', 'n1', 'type', 'veth', 'peer', 'name', 'b', 'netns', 'n2',
  ]);
});

test('tbf burst holds a full frame at low rates and 10 ms at high rates', () => {
  const at = (rate: number): string[] => tbfArgs('e1', rate);
  assert.deepEqual(at(10_000_000), ['qdisc', 'replace', 'dev', 'e1', 'root', 'tbf', 'rate', '10000000bit', 'burst', '12500', 'latency', '50ms']);
  assert.equal(at(2_500_000)[9], '3200');
  assert.equal(at(1_000_000_000)[9], '1250000');
  assert.throws(() => at(0), RangeError);
  assert.throws(() => at(1.5e6 + 0.5), RangeError);
});
