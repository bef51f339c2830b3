import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { isScoreError } from '../errors/errors.ts';
import { resourceName } from './names.ts';
import {
  addAddress,
  addNetns,
  addVethPair,
  disableTxOffload,
  listLinks,
  listNetns,
  netnsPids,
  nsExec,
  setLinkUp,
  setMac,
  shape,
} from './netns.ts';
import {
  addBridge,
  addBridgeArgs,
  addPort,
  addPortArgs,
  cleanLeftovers,
  delBridge,
  formatDpid,
  liveInstances,
  loopbackControllerPort,
  ofctl,
  ovsdbServerArgs,
  ovsEnv,
  ovsPaths,
  startOvs,
  stopOvs,
  vsctl,
  vswitchdArgs,
  withOvs,
  type OvsInstance,
} from './ovs.ts';
import { isRunning } from './procs.ts';
import { run } from './exec.ts';
import { systemTestGate } from './system-gate.ts';

// ---- pure parts: no root needed -------------------------------------------------------------

test('every OVS file of a run lives in its run dir and every command is pointed there', () => {
  const p = ovsPaths('/tmp/score-ovs-sc1234');
  for (const [key, value] of Object.entries(p) as Array<[string, string]>) {
    assert.ok(value.startsWith('/tmp/score-ovs-sc1234'), `${key} = ${value}`);
  }
  const env = ovsEnv(p);
  for (const v of ['OVS_RUNDIR', 'OVS_DBDIR', 'OVS_LOGDIR', 'OVS_SYSCONFDIR']) assert.equal(env[v], p.runDir);
  assert.equal(env.OVS_PKGDATADIR, '/usr/share/openvswitch');
  const db = ovsdbServerArgs(p);
  assert.equal(db[0], p.db);
  assert.ok(db.includes(`--remote=punix:${p.dbSocket}`), 'db.includes(`--remote=punix:${p.dbSocket}`)');
  assert.ok(db.includes(`--pidfile=${p.ovsdbPidfile}`), 'db.includes(`--pidfile=${p.ovsdbPidfile}`)');
  const vs = vswitchdArgs(p);
  assert.equal(vs[0], `unix:${p.dbSocket}`);
  assert.ok(vs.includes(`--pidfile=${p.vswitchdPidfile}`) && vs.includes('--detach'), 'vs.includes(`--pidfile=${p.vswitchdPidfile}`) && vs.includes(\'--detach\')');
});

test('bridges are netdev, secure, OpenFlow 1.3 with a fixed dpid in one transaction', () => {
  const args = addBridgeArgs('sc1234-s1', { dpid: 0x1a }, 'unix:/r/ctl-6653.sock');
  assert.deepEqual(args.slice(0, 2), ['add-br', 'sc1234-s1']);
  for (const s of [
    'datapath_type=netdev',
    'fail_mode=secure',
    'protocols=OpenFlow13',
    'other-config:datapath-id=000000000000001a',
    'other-config:disable-in-band=true',
    'target="unix:/r/ctl-6653.sock"',
    'max_backoff=1000',
    'controller=@c',
  ]) {
    assert.ok(args.includes(s), s);
  }
  const plain = addBridgeArgs('sc1234-s2', { failMode: 'standalone', protocols: 'OpenFlow10,OpenFlow13' });
  assert.ok(plain.includes('fail_mode=standalone') && plain.includes('protocols=OpenFlow10,OpenFlow13'), 'plain.includes(\'fail_mode=standalone\') && plain.includes(\'protocols=OpenFlow10,OpenFlow...');
  assert.ok(!plain.some((a) => a.startsWith('other-config:datapath-id') || a === 'controller=@c'), '!plain.some((a) => a.startsWith(\'other-config:datapath-id\') || a === \'controller=@c\')');
});

test('datapath ids accept numbers, bigints and hex with or without colons', () => {
  assert.equal(formatDpid(1), '0000000000000001');
  assert.equal(formatDpid(0xffffffffffffffffn), 'ffffffffffffffff');
  assert.equal(formatDpid('00:00:00:00:00:00:00:0a'), '000000000000000a');
  assert.equal(formatDpid('0x10'), '0000000000000010');
  assert.throws(() => formatDpid(1n << 64n), (e: unknown) => isScoreError(e, 'INTERNAL'));
  assert.throws(() => formatDpid('zz'), (e: unknown) => isScoreError(e, 'INTERNAL'));
});

test('only host-loopback TCP controllers are relayed', () => {
  assert.equal(loopbackControllerPort('tcp:127.0.0.1:6653'), 6653);
  assert.equal(loopbackControllerPort('tcp:localhost:6633'), 6633);
  assert.equal(loopbackControllerPort('tcp:10.0.0.1:6653'), undefined);
  assert.equal(loopbackControllerPort('unix:/x'), undefined);
  assert.equal(loopbackControllerPort('tcp:127.0.0.1:70000'), undefined);
});

test('ports can request an OpenFlow port number and be patch ports', () => {
  assert.deepEqual(addPortArgs('b', 'p'), ['add-port', 'b', 'p']);
  assert.deepEqual(addPortArgs('b', 'p', { ofport: 3, type: 'patch', options: { peer: 'q' } }), [
    'add-port', 'b', 'p', '--', 'set', 'Interface', 'p', 'ofport_request=3', 'type=patch', 'options:peer=q',
  ]);
});

// ---- system tests: root + Open vSwitch ------------------------------------------------------

const gate = systemTestGate({
  root: true,
  tools: ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'ping', 'ethtool', 'tc', 'ss', 'iperf3'],
});
const sys = { skip: gate.skip, timeout: 60_000 };

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Snapshot {
  readonly prefix: string;
  readonly runDir: string;
  readonly pids: readonly number[];
}

function snapshot(o: OvsInstance): Snapshot {
  return { prefix: o.prefix, runDir: o.paths.runDir, pids: [o.ovsdbPid, o.vswitchdPid] };
}

async function assertNothingLeft(s: Snapshot): Promise<void> {
  const ours = (n: string): boolean => n.startsWith(`${s.prefix}-`);
  assert.deepEqual((await listNetns()).filter(ours), [], 'namespaces left');
  assert.deepEqual((await listLinks()).filter(ours), [], 'links left');
  for (const pid of s.pids) assert.ok(!isRunning(pid), `daemon ${pid} still runs`);
  assert.ok(!existsSync(s.runDir), `${s.runDir} still exists`);
  assert.ok(!liveInstances().some((i) => i.prefix === s.prefix), 'instance still registered');
}

/** A fake controller on the host's loopback that records the first bytes of each connection. */
async function listenOnLoopback(): Promise<{ server: Server; port: number; firstBytes: Promise<Buffer> }> {
  let gotFirst: (b: Buffer) => void = () => undefined;
  const firstBytes = new Promise<Buffer>((resolve) => (gotFirst = resolve));
  const server = createServer((sock) => {
    sock.once('data', (b: Buffer) => gotFirst(b));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object', 'addr !== null && typeof addr === \'object\'');
  return { server, port: addr.port, firstBytes };
}

/** Host namespace `h` with veth `<h>-e0` (address `ip`) cabled to `port` on `bridge`. */
async function attachHost(o: OvsInstance, h: string, bridge: string, port: string, ofport: number, ip: string, mac: string) {
  const ns = resourceName(o.prefix, h);
  const hostEnd = resourceName(o.prefix, `${h}-e0`);
  const swEnd = resourceName(o.prefix, port);
  await addNetns(ns);
  await addVethPair(hostEnd, swEnd, { nsA: ns, nsB: o.netns });
  await setMac(hostEnd, mac, ns);
  await addAddress(hostEnd, ip, ns);
  await disableTxOffload(hostEnd, ns);
  await setLinkUp(hostEnd, ns);
  await setLinkUp(swEnd, o.netns);
  await addPort(o, resourceName(o.prefix, bridge), swEnd, { ofport });
  return { ns, hostEnd, swEnd };
}

test('isolated OVS: two patched netdev bridges carry a ping between two namespaces', sys, async (t) => {
  const t0 = performance.now();
  const o = await startOvs();
  t.diagnostic(`startOvs ${(performance.now() - t0).toFixed(0)} ms (prefix ${o.prefix})`);
  const snap = snapshot(o);
  const ctl = await listenOnLoopback();
  const lingering: number[] = [];
  try {
    const s1 = resourceName(o.prefix, 's1');
    const s2 = resourceName(o.prefix, 's2');
    await addBridge(o, s1, { dpid: 1, controller: `tcp:127.0.0.1:${ctl.port}` });
    await addBridge(o, s2, { dpid: 2 });
    await addPort(o, s1, resourceName(o.prefix, 's1-p9'), { ofport: 9, type: 'patch', options: { peer: resourceName(o.prefix, 's2-p9') } });
    await addPort(o, s2, resourceName(o.prefix, 's2-p9'), { ofport: 9, type: 'patch', options: { peer: resourceName(o.prefix, 's1-p9') } });

    // The switch reached the host-loopback controller through the relay, speaking OpenFlow 1.3.
    const hello = await Promise.race([ctl.firstBytes, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no HELLO within 5 s')), 5000))]);
    assert.equal(hello[0], 0x04, 'OpenFlow version');
    assert.equal(hello[1], 0, 'OFPT_HELLO');

    const show = await vsctl(o, 'show');
    assert.match(show, new RegExp(`Bridge ${s1}`));
    assert.match(show, new RegExp(`Bridge ${s2}`));
    assert.equal((show.match(/datapath_type: netdev/g) ?? []).length, 2);
    assert.match(await ofctl(o, 'show', s1), /OFPT_FEATURES_REPLY \(OF1\.3\).*dpid:0000000000000001/);
    assert.match(await ofctl(o, 'show', s2), /dpid:0000000000000002/);

    const h1 = await attachHost(o, 'h1', 's1', 's1-e1', 1, '10.0.0.1/24', '00:00:00:00:00:01');
    const h2 = await attachHost(o, 'h2', 's2', 's2-e1', 1, '10.0.0.2/24', '00:00:00:00:00:02');
    await shape(h1.swEnd, 10_000_000, o.netns);
    const qdisc = (await run('tc', ['-n', o.netns, 'qdisc', 'show', 'dev', h1.swEnd])).stdout;
    assert.match(qdisc, /tbf .*rate 10Mbit/);

    // Secure fail mode and a silent controller: no flows, no forwarding.
    await assert.rejects(nsExec(h1.ns, 'ping', '-c', '1', '-W', '1', '10.0.0.2'), (e: unknown) => isScoreError(e, 'EMULATION_COMMAND'));

    await ofctl(o, 'add-flow', s1, 'priority=1,actions=NORMAL');
    await ofctl(o, 'add-flow', s2, 'priority=1,actions=NORMAL');
    const out = await nsExec(h1.ns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.0.0.2');
    const received = Number(/(\d+) received/.exec(out)?.[1] ?? '0');
    assert.ok(received >= 2, out);
    await nsExec(h2.ns, 'ping', '-c', '1', '-W', '2', '10.0.0.1');
    // TCP through the userspace datapath (needs tx offload off); the server is left running on
    // purpose: stopOvs must kill processes inside the run's namespaces too.
    await nsExec(h2.ns, 'iperf3', '-s', '-1', '-D', '-B', '10.0.0.2');
    await waitFor(async () => (await nsExec(h2.ns, 'ss', '-ltnH')).includes('5201'));
    await nsExec(h1.ns, 'iperf3', '-c', '10.0.0.2', '-n', '200K');
    await nsExec(h2.ns, 'iperf3', '-s', '-D', '-B', '10.0.0.2');
    lingering.push(...(await netnsPids(h2.ns)));
    assert.ok(lingering.length > 0, 'lingering.length > 0');
    const flows = await ofctl(o, 'dump-flows', s2);
    assert.match(flows, /n_packets=[1-9]\d*.*actions=NORMAL/);
  } finally {
    await new Promise<void>((r) => ctl.server.close(() => r()));
    const t1 = performance.now();
    await stopOvs(o);
    t.diagnostic(`stopOvs ${(performance.now() - t1).toFixed(0)} ms`);
  }
  await assertNothingLeft({ ...snap, pids: [...snap.pids, ...lingering] });
});

test('delBridge removes a bridge and refuses names of other runs', sys, async () => {
  await withOvs(async (o) => {
    const s1 = resourceName(o.prefix, 's1');
    await addBridge(o, s1);
    await delBridge(o, s1);
    await delBridge(o, s1);
    assert.doesNotMatch(await vsctl(o, 'show'), /Bridge/);
    await assert.rejects(addBridge(o, 'br0'), (e: unknown) => isScoreError(e, 'INTERNAL'));
  });
});

test('withOvs cleans up when the body throws', sys, async () => {
  let snap: Snapshot | undefined;
  await assert.rejects(
    withOvs(async (o) => {
      snap = snapshot(o);
      await addBridge(o, resourceName(o.prefix, 's1'));
      await addNetns(resourceName(o.prefix, 'h1'));
      // A veth left in the host namespace too: cleanup must find it by name.
      await addVethPair(resourceName(o.prefix, 'x-e0'), resourceName(o.prefix, 'x-e1'));
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.ok(snap !== undefined, 'snap !== undefined');
  await assertNothingLeft(snap);
});

test('cleanLeftovers removes a crashed run and leaves a live one alone', sys, async () => {
  const alive = await startOvs();
  const crashed = await startOvs();
  try {
    await addNetns(resourceName(crashed.prefix, 'h1'));
    await addVethPair(resourceName(crashed.prefix, 'x-e0'), resourceName(crashed.prefix, 'x-e1'));
    await addNetns(resourceName(alive.prefix, 'h1'));
    // Make `crashed` look like the run of a process that died: its owner is a finished child.
    const dead = spawnSync('true');
    assert.ok(dead.pid !== undefined && !isRunning(dead.pid), 'dead.pid !== undefined && !isRunning(dead.pid)');
    writeFileSync(crashed.paths.ownerFile, JSON.stringify({ pid: dead.pid, startTime: '1' }));

    const report = await cleanLeftovers();
    assert.ok(report.liveRuns.includes(alive.prefix), 'report.liveRuns.includes(alive.prefix)');
    assert.ok(report.runDirs.includes(crashed.paths.runDir), 'report.runDirs.includes(crashed.paths.runDir)');
    assert.deepEqual([...report.processes].sort(), [crashed.ovsdbPid, crashed.vswitchdPid].sort());
    assert.ok(report.namespaces.includes(resourceName(crashed.prefix, 'h1')), 'report.namespaces.includes(resourceName(crashed.prefix, \'h1\'))');
    assert.ok(report.namespaces.includes(crashed.netns), 'report.namespaces.includes(crashed.netns)');
    assert.ok(report.links.includes(resourceName(crashed.prefix, 'x-e0')), 'report.links.includes(resourceName(crashed.prefix, \'x-e0\'))');
    assert.ok(!existsSync(crashed.paths.runDir), '!existsSync(crashed.paths.runDir)');
    assert.ok(!isRunning(crashed.vswitchdPid) && !isRunning(crashed.ovsdbPid), '!isRunning(crashed.vswitchdPid) && !isRunning(crashed.ovsdbPid)');
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${crashed.prefix}-`)), []);
    assert.deepEqual((await listLinks()).filter((n) => n.startsWith(`${crashed.prefix}-`)), []);

    assert.ok(isRunning(alive.vswitchdPid) && isRunning(alive.ovsdbPid), 'isRunning(alive.vswitchdPid) && isRunning(alive.ovsdbPid)');
    assert.ok((await listNetns()).includes(resourceName(alive.prefix, 'h1')), '(await listNetns()).includes(resourceName(alive.prefix, \'h1\'))');
    const s1 = resourceName(alive.prefix, 's1');
    await addBridge(alive, s1, { dpid: 7 });
    assert.match(await ofctl(alive, 'show', s1), /dpid:0000000000000007/);
  } finally {
    await stopOvs(crashed);
    await stopOvs(alive);
  }
  await assertNothingLeft(snapshot(alive));
  await assertNothingLeft(snapshot(crashed));
});

test('SIGTERM to a process running OVS still cleans everything up', sys, async () => {
  const script = [
    "import { startOvs, addBridge } from './src/emulation/ovs.ts';",
    "import { addNetns } from './src/emulation/netns.ts';",
    'const o = await startOvs();',
    "await addBridge(o, o.prefix + '-s1');",
    "await addNetns(o.prefix + '-h1');",
    'console.log(JSON.stringify({ prefix: o.prefix, runDir: o.paths.runDir, pids: [o.ovsdbPid, o.vswitchdPid] }));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0] ?? '');
    });
    child.once('exit', (code) => reject(new Error(`child exited early with ${String(code)}`)));
  });
  const snap = JSON.parse(line) as Snapshot;
  assert.ok((await listNetns()).includes(`${snap.prefix}-h1`), '(await listNetns()).includes(`${snap.prefix}-h1`)');
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, sig) => resolve(sig)));
  child.kill('SIGTERM');
  assert.equal(await exited, 'SIGTERM', 'the child still dies of the signal');
  const ours = (n: string): boolean => n.startsWith(`${snap.prefix}-`);
  assert.deepEqual((await listNetns()).filter(ours), []);
  assert.deepEqual((await listLinks()).filter(ours), []);
  for (const pid of snap.pids) assert.ok(!isRunning(pid), '!isRunning(pid)');
  assert.ok(!existsSync(snap.runDir), '!existsSync(snap.runDir)');
});

test('the exit-time fallback (an uncaught exception) kills what runs in the run namespaces before deleting them', sys, async () => {
  // A detached process in the OVS namespace, as a QEMU guest or libvirtd is (own session, so
  // no process-group signal reaches it): only the fallback's per-namespace kill ends it.
  const script = [
    "import { spawn } from 'node:child_process';",
    "import { startOvs } from './src/emulation/ovs.ts';",
    "import { addNetns } from './src/emulation/netns.ts';",
    'const o = await startOvs();',
    "await addNetns(o.prefix + '-h1');",
    "const guest = spawn('ip', ['netns', 'exec', o.netns, 'sleep', '300'], { stdio: 'ignore', detached: true });",
    'guest.unref();',
    "const vmProc = spawn('ip', ['netns', 'exec', o.prefix + '-h1', 'sleep', '300'], { stdio: 'ignore', detached: true });",
    'vmProc.unref();',
    'await new Promise((r) => setTimeout(r, 300));',
    'console.log(JSON.stringify({ prefix: o.prefix, runDir: o.paths.runDir, pids: [o.ovsdbPid, o.vswitchdPid], guests: [guest.pid, vmProc.pid] }));',
    "setTimeout(() => { throw new Error('injected crash'); }, 100);",
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await exited;
  const line = out.split('\n')[0] ?? '';
  assert.ok(line.startsWith('{'), `child printed its run: ${out} ${stderr}`);
  const snap = JSON.parse(line) as Snapshot & { guests: number[] };
  try {
    assert.notEqual(code, 0, 'the child died of its exception');
    assert.match(stderr, /injected crash/);
    // SIGKILL was sent before exit; the kernel reaps asynchronously
    const deadline = Date.now() + 3000;
    while (snap.guests.some((p) => isRunning(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of snap.guests) assert.ok(!isRunning(pid), `process ${pid} in a run namespace still runs`);
    const ours = (n: string): boolean => n.startsWith(`${snap.prefix}-`);
    assert.deepEqual((await listNetns()).filter(ours), []);
    for (const pid of snap.pids) assert.ok(!isRunning(pid), '!isRunning(pid)');
    assert.ok(!existsSync(snap.runDir), '!existsSync(snap.runDir)');
  } finally {
    for (const pid of snap.guests) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    await cleanLeftovers(new RegExp(`^${snap.prefix}$`)).catch(() => undefined);
  }
});
