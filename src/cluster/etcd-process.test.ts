import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { freePorts } from './etcd-process.ts';

test('freePorts: n distinct ports, each free again once it returns', async () => {
  const ports = await freePorts(64);
  assert.equal(ports.length, 64);
  assert.equal(new Set(ports).size, 64, `distinct: ${ports.join(',')}`);
  for (const p of ports) assert.ok(Number.isInteger(p) && p > 0, `a real port: ${p}`);
  // released: a listener can take the first of them
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(ports[0], '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => s.close(() => resolve()));
});
