import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { isScoreError } from '../../errors/errors.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import { planDataCentre } from '../../emulation/datacentre.ts';
import { listLinks, listNetns } from '../../emulation/netns.ts';
import { systemTestGate } from '../../emulation/system-gate.ts';
import { describeDataCentre, parseEmulateOptions, registerEmulate, runEmulation } from './emulate.ts';
import { guestVms } from '../../vm/emulate.ts';

const base = { scenario: 'paper', controller: 'tcp:127.0.0.1:6653', traffic: true, shape: true };

test('emulate options: controller targets OVS can dial, a positive duration, a scenario unless --clean', () => {
  assert.deepEqual(parseEmulateOptions({ ...base, duration: '2.5' }), { ...base, durationS: 2.5 });
  assert.deepEqual(parseEmulateOptions({ ...base, controller: 'unix:/run/c.sock', traffic: false }), { ...base, controller: 'unix:/run/c.sock', traffic: false });
  for (const bad of [{ controller: '127.0.0.1:6653' }, { controller: 'ptcp:6653' }, { duration: '0' }, { duration: 'x' }, { scenario: undefined }]) {
    assert.throws(() => parseEmulateOptions({ ...base, ...bad }), (e: unknown) => isScoreError(e, 'CLI_USAGE'), JSON.stringify(bad));
  }
});

test('the printout names every bridge with its dpid, every VM with its namespace, and a ping to try', () => {
  const { model } = loadScenarioFile('paper');
  const plan = planDataCentre(model, 'sc1234');
  const lines = describeDataCentre(model, plan, { netns: 'sc1234-ovs', runDir: '/tmp/score-ovs-sc1234', dbSocket: '/tmp/score-ovs-sc1234/db.sock', controller: 'tcp:127.0.0.1:6653', shaped: true });
  const text = lines.join('\n');
  assert.match(text, /^ {2}c1 +sc1234-c1 +dpid 0000000000000c01 +switch +ports 1->a1 2->a2 3->a3 4->a4$/m);
  assert.match(text, /^ {2}hv16 +sc1234-hv16 +dpid 0000000000000116 +hypervisor +ports 1->t1$/m);
  assert.match(text, /^ {2}vm24 +sc1234-vm24 +10\.0\.0\.24 +00:00:00:00:00:18 +hv22 port 4$/m);
  assert.match(text, /^ {2}ip netns exec sc1234-vm1 ping -c 3 10\.0\.0\.6$/m, 'first Table II pair');
  assert.equal(lines.filter((l) => /dpid [0-9a-f]{16}/.test(l)).length, 18);
  assert.equal(lines.filter((l) => / port \d+$/.test(l)).length, 24);
});

test('with QEMU guests the printout says which VMs are guests and pings a guest from a namespace', () => {
  const { model } = loadScenarioFile('paper');
  const plan = planDataCentre(model, 'sc1234');
  const lines = describeDataCentre(model, plan, { netns: 'sc1234-ovs', runDir: '/r', dbSocket: '/r/db.sock', controller: 'tcp:127.0.0.1:6653', shaped: true }, new Set(guestVms(model)));
  const text = lines.join('\n');
  assert.match(text, /^ {2}vm1 +qemu guest +10\.0\.0\.1 /m);
  assert.match(text, /^ {2}vm24 +sc1234-vm24 +10\.0\.0\.24 /m, 'a VM without traffic stays a namespace');
  const hint = lines.find((l) => l.includes('ip netns exec'));
  assert.ok(hint !== undefined, 'hint !== undefined');
  const ns = /ip netns exec (\S+) ping -c 3 10\.0\.0\.6$/.exec(hint.trim())?.[1];
  assert.ok(ns !== undefined && !guestVms(model).some((g) => ns === `sc1234-${g}`), `pings from a namespace, not a guest: ${hint}`);
});

const gate = systemTestGate({ root: true, tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'tc', 'ethtool', 'nping', 'iperf3', 'ss', 'python3'] });
const sys = { skip: gate.skip, timeout: 60_000 };

test('score emulate builds, runs the traffic for --duration, and removes everything', sys, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'score-emulate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `name: tiny
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }]
links: [{ a: h1, b: s1, capacity: 10Mbps }, { a: h2, b: s1, capacity: 10Mbps }]
vms:
  - { name: vm1, ip: 10.9.0.1, mac: "02:00:00:00:00:01", host: h1 }
  - { name: vm2, ip: 10.9.0.2, mac: "02:00:00:00:00:02", host: h2 }
traffic:
  - { src: vm1, dst: vm2, packetBytes: 50, pps: 10, generator: nping, protocol: tcp }
`,
  );
  const lines: string[] = [];
  const logged = t.mock.method(console, 'log', (s: string) => lines.push(s));
  const program = new Command().exitOverride();
  registerEmulate(program);
  await program.parseAsync(['node', 'score', 'emulate', '--scenario', file, '--controller', 'tcp:127.0.0.1:9', '--duration', '0.5']);
  logged.mock.restore();
  const text = lines.join('\n');
  assert.match(text, /Built 3 bridges, 2 links, 2 VMs in \d+ ms \(run prefix (sc[0-9a-z]{4})\)/);
  const prefix = /run prefix (sc[0-9a-z]{4})/.exec(text)?.[1] ?? '';
  assert.match(text, new RegExp(`ip netns exec ${prefix}-vm1 ping -c 3 10\\.9\\.0\\.2`));
  assert.match(text, /Traffic: vm1->vm2 \(nping\/tcp\)/);
  assert.match(text, /Removed everything in \d+ ms\./);
  assert.doesNotMatch(text, /Interrupted/);
  assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
  assert.deepEqual((await listLinks()).filter((n) => n.startsWith(`${prefix}-`)), []);
});

test('an interruption stops the emulation early and still removes everything', sys, async () => {
  const lines: string[] = [];
  let interrupt: () => void = () => undefined;
  const interrupted = new Promise<void>((r) => (interrupt = r));
  const t0 = performance.now();
  await runEmulation({ ...base, controller: 'tcp:127.0.0.1:9', traffic: false, shape: false, durationS: 30 }, { out: (s) => lines.push(s), interrupted }, async () => {
    interrupt();
    await new Promise<never>(() => undefined);
  });
  assert.ok(performance.now() - t0 < 15_000, 'did not wait for --duration');
  const text = lines.join('\n');
  assert.match(text, /Built 18 bridges, 24 links, 24 VMs/);
  assert.match(text, /not shaped/);
  assert.doesNotMatch(text, /^Traffic:/m);
  assert.match(text, /Removed everything/);
  assert.match(text, /Interrupted\.$/);
  const prefix = /run prefix (sc[0-9a-z]{4})/.exec(text)?.[1] ?? '';
  assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
});

test('emulate --clean refuses what it would ignore (--every, --policy, --scenario...) with CLI_USAGE, before its root check and before removing anything', async () => {
  for (const args of [
    ['--every', '5s'],
    ['--stable-rounds', '2'],
    ['--policy', 'la'],
    ['--scenario', 'paper'],
    ['--duration', '10'],
    ['--overcommit', '1'],
  ]) {
    const program = new Command().exitOverride();
    registerEmulate(program);
    await assert.rejects(
      program.parseAsync(['node', 'score', 'emulate', '--clean', ...args]),
      (e: unknown) => isScoreError(e, 'CLI_USAGE') && (e as Error).message.startsWith(`${args[0]!} does not go with --clean`),
      args.join(' '),
    );
  }
});

test('emulate --every goes with --policy, and without --swaps or --lookahead (CLI_USAGE before anything is built)', async () => {
  for (const args of [
    ['--scenario', 'paper-phases', '--every', '5s'],
    ['--scenario', 'paper-phases', '--stable-rounds', '2'],
  ]) {
    const program = new Command().exitOverride();
    registerEmulate(program);
    await assert.rejects(program.parseAsync(['node', 'score', 'emulate', ...args]), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /--every|needs --every/.test((e as Error).message), args.join(' '));
  }
  // --policy's own checks come after its root check
  if (process.getuid?.() === 0) {
    const program = new Command().exitOverride();
    registerEmulate(program);
    await assert.rejects(program.parseAsync(['node', 'score', 'emulate', '--scenario', 'paper-phases', '--policy', 'la', '--every', '5s', '--swaps']), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /takes no --swaps/.test((e as Error).message));
  }
});

test('emulate --overcommit goes with --swaps or --lookahead (CLI_USAGE before the root check and before anything is built)', async () => {
  for (const args of [
    ['--scenario', 'swap', '--policy', 'la', '--overcommit', '1'],
    ['--scenario', 'swap', '--policy', 'gain', '--overcommit', '0'],
  ]) {
    const program = new Command().exitOverride();
    registerEmulate(program);
    await assert.rejects(program.parseAsync(['node', 'score', 'emulate', ...args]), (e: unknown) => isScoreError(e, 'CLI_USAGE') && /--overcommit goes with --swaps or --lookahead/.test((e as Error).message), args.join(' '));
  }
});
