/**
 * `score controller --scenario` beside switches that are not the scenario's (issue 15): it says
 * so, naming both sides, and the log names hosts as VMs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScoreError } from '../../errors/errors.ts';
import { nameHosts, parseAdvertiseUrl, parseMaxHosts, startController } from './controller.ts';
import { parseTolerance } from './simulate.ts';
import { FakeSwitch, until } from '../../openflow/connection/fake-switch.testing.ts';
import { createServer } from 'node:net';

test('switches that are not the scenario\'s, and scenario switches that never connect, are warned about', async () => {
  const lines: string[] = [];
  const ctl = await startController({
    port: 0,
    host: '127.0.0.1',
    scenario: 'paper',
    pollMs: 1000,
    reportMs: 60_000,
    apiPort: 0,
    missingAfterMs: 300,
    out: (l) => lines.push(l),
  });
  const switches: FakeSwitch[] = [];
  try {
    // A Mininet tree's first switch (dpid 1), and the paper's t1 (0x0b01).
    switches.push(await FakeSwitch.up(ctl.port, 1n));
    switches.push(await FakeSwitch.up(ctl.port, 0xb01n));
    // On a loaded machine the first check (300 ms) can run before the switches' handshakes end and
    // say 18 of 18; the warning is said again when what is missing changes, so wait for that one.
    await until(() => lines.some((l) => l.includes('17 of 18 switches')), 'missing warning');
    const stranger = lines.filter((l) => l.includes('is not in scenario'));
    assert.equal(stranger.length, 1, lines.join('\n'));
    assert.match(stranger[0] ?? '', /WARN switch 00:00:00:00:00:00:00:01 is not in scenario paper, which expects c1 \(00:00:00:00:00:00:0c:01\), /);
    const missing = lines.find((l) => l.includes('17 of 18 switches')) ?? '';
    assert.match(missing, /WARN 17 of 18 switches of scenario paper are not connected: c1 \(00:00:00:00:00:00:0c:01\), .* and 11 more; connected instead: 00:00:00:00:00:00:00:01$/);
    assert.ok(!missing.includes('t1 ('), 't1 connected');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(lines.filter((l) => l.includes('17 of 18 switches')).length, 1, 'said once while nothing changes');
  } finally {
    for (const s of switches) s.close();
    await ctl.stop();
  }
});

test('the log names hosts by VM, as the summary does; dpids and unknown MACs stay as they are', () => {
  const names = new Map([['00:00:00:00:00:03', 'vm3']]);
  assert.equal(nameHosts('host 00:00:00:00:00:03 (10.0.0.3) at hv16:4', names), 'host vm3 (00:00:00:00:00:03) (10.0.0.3) at hv16:4');
  assert.equal(nameHosts('host 02:00:00:00:00:09 moved hv16:4 -> hv23:5 (rarp)', names), 'host 02:00:00:00:00:09 moved hv16:4 -> hv23:5 (rarp)');
  // An 8-byte dpid contains MAC-like runs; it is left alone.
  assert.equal(nameHosts('switch up t1 (00:00:00:00:00:00:00:03) with 4 ports', names), 'switch up t1 (00:00:00:00:00:00:00:03) with 4 ports');
});

test('an API port in use is LISTEN_FAILED, and the switch listener it had opened is closed again', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const apiPort = (busy.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const ofPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  try {
    await assert.rejects(
      startController({ port: ofPort, host: '127.0.0.1', pollMs: 1000, reportMs: 60_000, apiPort, out: () => {} }),
      (e: Error & { code?: string }) => e.code === 'LISTEN_FAILED' && e.message.includes(`127.0.0.1:${apiPort}`),
    );
    // The OpenFlow port is free again: a new listener can take it.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(ofPort, '127.0.0.1', resolve);
    });
    await new Promise((r) => again.close(r));
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test('--advertise-url: an http(s) origin; anything else is a usage error', () => {
  assert.equal(parseAdvertiseUrl('http://10.0.0.11:8080/'), 'http://10.0.0.11:8080');
  assert.equal(parseAdvertiseUrl('https://c1.example:8443'), 'https://c1.example:8443');
  for (const bad of ['10.0.0.11:8080', 'ftp://x:1', 'http://x:1/api', 'http://u:p@x:1', 'http://x:1/?a=1']) {
    assert.throws(() => parseAdvertiseUrl(bad), (e: unknown) => (e as { code?: string }).code === 'CLI_USAGE', bad);
  }
});

test('--tolerance: a fraction in [0, 1); anything else is CLI_USAGE', () => {
  assert.equal(parseTolerance(undefined), undefined);
  assert.equal(parseTolerance('0'), 0);
  assert.equal(parseTolerance('0.15'), 0.15);
  for (const bad of ['1', '-0.1', '1.5', 'lots', '', ' ', 'NaN']) {
    assert.throws(() => parseTolerance(bad), (e: unknown) => e instanceof ScoreError && e.code === 'CLI_USAGE', `"${bad}" is refused`);
  }
});

test('--max-hosts-per-port: a whole number >= 1 or "none"; anything else is CLI_USAGE', () => {
  assert.equal(parseMaxHosts(undefined), undefined);
  assert.equal(parseMaxHosts('16'), 16);
  assert.equal(parseMaxHosts('none'), Number.POSITIVE_INFINITY);
  for (const bad of ['0', '-3', '2.5', 'lots', '']) {
    assert.throws(() => parseMaxHosts(bad), (e: unknown) => e instanceof ScoreError && e.code === 'CLI_USAGE', `"${bad}" is refused`);
  }
});
