import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../errors/errors.ts';
import {
  IFNAME_MAX,
  newRunPrefix,
  prefixOf,
  prefixOfRunDir,
  resourceName,
  RUN_PREFIX_PATTERN,
  runDirName,
  belongsToRun,
} from './names.ts';

test('run prefixes are sc + 4 base36 chars and come from the random source', () => {
  assert.equal(newRunPrefix(() => 0), 'sc0000');
  assert.equal(newRunPrefix(() => 0.999999), 'sczzzz');
  let i = 0;
  const seq = [0.1, 0.5, 0.9, 0.3];
  const p = newRunPrefix(() => seq[i++ % seq.length] ?? 0);
  assert.equal(p, 'sc3iwa');
  assert.match(p, RUN_PREFIX_PATTERN);
  for (let k = 0; k < 200; k++) assert.match(newRunPrefix(Math.random), RUN_PREFIX_PATTERN);
});

test('the longest resource names of the paper topology fit an interface name', () => {
  for (const local of ['ovs', 's1', 'hv16', 'vm24', 'hv23-e9', 'vm24-e0', 'hv16-e12']) {
    const name = resourceName('sczzzz', local);
    assert.ok(name.length <= IFNAME_MAX, `${name} is ${name.length} chars`);
  }
  assert.equal(resourceName('sc3k9z', 'hv16-e12'), 'sc3k9z-hv16-e12');
  assert.equal(resourceName('sc3k9z', 'hv16-e12').length, 15);
});

test('names that would not be valid interfaces or would hide the prefix are refused', () => {
  for (const local of ['hv16-e123', '', 'S1', 'a b', 'a/b', '-x']) {
    assert.throws(() => resourceName('sc3k9z', local), (e: unknown) => isScoreError(e, 'INTERNAL'), local);
  }
  for (const prefix of ['sc-1', 'toolongx', '1abc', 'SC1234']) {
    assert.throws(() => resourceName(prefix, 's1'), (e: unknown) => isScoreError(e, 'INTERNAL'), prefix);
  }
});

test('the prefix is recovered from resource and run dir names', () => {
  assert.equal(prefixOf('sc3k9z-h1-e0'), 'sc3k9z');
  assert.equal(prefixOf('eth0'), undefined);
  assert.equal(prefixOf('ovs-netdev'), 'ovs');
  assert.ok(!RUN_PREFIX_PATTERN.test('ovs'), '!RUN_PREFIX_PATTERN.test(\'ovs\')');
  assert.equal(prefixOfRunDir(runDirName('sc3k9z')), 'sc3k9z');
  assert.equal(prefixOfRunDir('systemd-private-x'), undefined);
  assert.ok(belongsToRun('sc3k9z-s1', 'sc3k9z'), 'belongsToRun(\'sc3k9z-s1\', \'sc3k9z\')');
  assert.ok(!belongsToRun('sc3k9zz-s1', 'sc3k9z'), '!belongsToRun(\'sc3k9zz-s1\', \'sc3k9z\')');
  assert.ok(!belongsToRun('sc3k9z', 'sc3k9z'), '!belongsToRun(\'sc3k9z\', \'sc3k9z\')');
});
