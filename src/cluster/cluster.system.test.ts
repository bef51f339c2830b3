/**
 * Three `score controller --cluster` processes on a real three-member etcd cluster (loopback
 * ports, a data dir per member; every controller is given all three endpoints), the paper data
 * centre on Open vSwitch with every switch connected to all three, its traffic (nping/iperf3 in
 * the VM namespaces) and one `score agent --driver emulated` process per hypervisor, pointed at
 * c3 (a follower until the end: it forwards their reads and writes to whoever leads).
 *
 * A Load-Aware orchestration runs while the leader is SIGKILLed twice: first between migrations
 * (a migration finished, the next not begun), then during one (the source agent reports its
 * driver moving the VM). After each kill the switches must report the next leader as MASTER and
 * the others as SLAVE; pings on every communicating pair must never go without a reply for a
 * second, the pairs of migrating VMs and of the VM in flight at the kill included (its agent holds
 * the switch-over until a leader can re-route it, and the leader installs its paths to the new port
 * before it is plugged in there); the new leader reconciles the interrupted migration from the
 * agent and continues the run. It must end at cost 0 (the scenario's traffic on the VMs' real cabling), with every VM at
 * exactly one place that the leader and the cabling agree on, and the migration records in etcd
 * neither lost nor doubled: per VM, the succeeded records chain from its first place to its last.
 * Needs root, OVS and etcd: skipped with a reason otherwise, mandatory in CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { systemTestGate } from '../emulation/system-gate.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { attachDataCentre, buildDataCentre, type DataCentre } from '../emulation/datacentre.ts';
import { startTraffic, type TrafficHandle } from '../emulation/traffic.ts';
import { ofctl } from '../emulation/ovs.ts';
import { generationCookie, generationSlot } from '../controller/commands.ts';
import { totalCost } from '../core/cost.ts';
import type { Hypervisor, MigrationRecord, Orchestration } from '../api/contract.ts';
import { controllerCredential } from '../api/identity.ts';
import { agentMigrationOutcome } from '../agent/server.ts';
import { sharedControllerKey } from './identity.ts';
import { startEtcd } from './etcd-process.ts';
import { freePorts } from './etcd-process.ts';
import { type ControllerProcess, connectAll, killAll, rolesByPort, spawnController, startPing, waitFor } from './cluster.testing.ts';

const gate = systemTestGate({ root: true, tools: ['etcd', 'ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'ping', 'tc', 'ethtool', 'nping', 'iperf3'] });

const BRIDGES = 18;
/**
 * The members' lease TTL. Not the 2 s default: a leader steps down once its lease is not surely
 * alive (400 ms before it can expire), and on a loaded 2-core machine a 3-member etcd sometimes
 * answered no keep-alive for 1.6 s, so the first leader stepped down while the test was still
 * setting up (3 of 10 runs in one session). The issue's bound is relative to the lease (MASTER
 * within 3 s of it expiring), so it is asserted against this TTL.
 */
const LEASE_TTL_S = 3;
/**
 * Measured pair rates this close count as equal (`score controller --tolerance`; pairs are grouped
 * by λ, src/service/traffic.ts). Not the 0.15 `score emulate` uses for nping alone: here the test's
 * own pings (50 a second each way on every pair, ~10x the scenario's nping stream) dominate what
 * the switches count, and on a loaded 2-core machine one snapshot measured the six nominally equal
 * pairs 9,168 to 10,673 B/s apart (16%; pairs whose VMs share a hypervisor about 10% low: ping
 * itself sends slower then, 41-45 a second against 49, as the VM's eth0 counters show). The
 * test prints each snapshot's spread (`measured`). With vm1's pair and vm2's in different groups,
 * or (before traffic.ts put λs on a binary grid) an ulp apart in the same one, vm2 was asked
 * first, took hv19's last slot, and Load-Aware ended at cost 3,000 (session 11, a CI rehearsal of
 * session 12, and one of three runs in session 13 with this tolerance and the ulp still there).
 */
const RATE_TOLERANCE = '0.3';
/**
 * The wait after a migration before the next decision (`score controller --settle`), as `score
 * emulate` waits (EMULATED_SETTLE_MS: the 5 s rate window, a poll, a late reply and a margin), so a
 * moved VM's pairs are priced on a full window of their new paths, not their first second or two.
 * (Sessions 11 and 12 blamed the cost-3,000 end on the 3 s default; session 13 found its cause in
 * the rate grouping: RATE_TOLERANCE above.)
 */
const SETTLE = '8.5s';
const OPERATOR = 'op-token-cluster-test';
const BIN = fileURLToPath(new URL('../../bin/score.js', import.meta.url));

async function api<T>(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} on ${base}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * What each snapshot measured and how the policy ranked the VMs on it: per leader and round, the
 * measured λ of each VM pair (bytes/s, both directions, as the records carry them) and their
 * spread, then each ask's policy key (Load-Aware: C_A(u) on those rates). The run's outcome hangs on this order when two VMs tie.
 */
function measured(all: readonly MigrationRecord[]): string {
  const groups = new Map<string, MigrationRecord[]>();
  for (const r of all) {
    const k = `${r.id.split('-')[0] ?? '?'} round ${r.round}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups]
    .map(([k, rs]) => {
      const rates = rs[0]?.inputs.rates ?? [];
      const lambda = new Map<string, number>();
      for (const x of rates) {
        const pair = [x.src, x.dst].sort().join('-');
        lambda.set(pair, (lambda.get(pair) ?? 0) + x.bytesPerSecond);
      }
      const ls = [...lambda.values()];
      const spread = ls.length === 0 ? 'none' : `${Math.round(Math.min(...ls))}..${Math.round(Math.max(...ls))} (${((Math.max(...ls) / Math.min(...ls) - 1) * 100).toFixed(1)}% apart)`;
      const pairs = [...lambda].map(([p, l]) => `${p} ${Math.round(l)}`).sort().join(', ');
      const keys = rs.map((r) => `${r.vm} ${Math.round(r.inputs.policyKey)} ${r.status}`).join(', ');
      return `${k}: pair λ (B/s) ${pairs}; ${spread}\n  asks (policy key): ${keys}`;
    })
    .join('\n');
}

test('paper data centre, three controllers on etcd, Load-Aware running: leader SIGKILLed between migrations and during one; MASTER follows, no ping silence of 1 s on any communicating pair, cost 0, every VM at one place, no record lost or doubled', { skip: gate.skip, timeout: 420_000 }, async (t) => {
  const loaded = loadScenarioFile('paper');
  const { model } = loaded;
  const etcd = await startEtcd({ size: 3 });
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  const procs: ControllerProcess[] = [];
  const agents: ChildProcess[] = [];
  const agentLines: string[] = [];
  let dc: DataCentre | undefined;
  let traffic: TrafficHandle | undefined;
  const t0 = Date.now();
  const say = (s: string): void => console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${s}`);
  const dump = (): string => `${procs.map((p) => `--- ${p.id}\n${p.lines.slice(-60).map((l) => l.text).join('\n')}`).join('\n')}\n--- agents\n${agentLines.slice(-40).join('\n')}`;
  const fail = (e: unknown): never => {
    throw new Error(`${String(e)}\n${dump()}\n${etcd.logs()}`);
  };
  const records = async (): Promise<MigrationRecord[]> => {
    const kvs = await client.getAll().prefix('score/default/state/migrations/').strings();
    return Object.entries(kvs).map(([k, v]) => ({ ...(JSON.parse(v) as MigrationRecord), id: k.slice('score/default/state/migrations/'.length) }));
  };
  try {
    const ids = ['c1', 'c2', 'c3'];
    const free = await freePorts(2 * ids.length);
    const ports = ids.map((_, i) => ({ of: free[2 * i] as number, api: free[2 * i + 1] as number }));
    const apiOf = (i: number): string => `http://127.0.0.1:${ports[i]?.api ?? 0}`;
    const spawnOne = (i: number): ControllerProcess =>
      spawnController({ id: ids[i] as string, ofPort: ports[i]?.of as number, apiPort: ports[i]?.api as number, endpoints: etcd.endpoints, scenario: 'paper', extra: ['--lease-ttl', String(LEASE_TTL_S), '--tolerance', RATE_TOLERANCE, '--settle', SETTLE] });
    const leads = (i: number): boolean => procs[i]?.lines.some((l) => l.text.includes(`${ids[i]} is LEADER`)) ?? false;
    // c1 first so it leads; the others queue behind it (c2 then c3)
    procs.push(spawnOne(0));
    await waitFor(() => leads(0), 'c1 elected', 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${dump()}\n${etcd.logs()}`);
    });
    procs.push(spawnOne(1));
    await waitFor(() => procs[1]?.lines.some((l) => l.text.includes('is a candidate')), 'c2 candidate', 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${dump()}`);
    });
    procs.push(spawnOne(2));
    await waitFor(() => procs[2]?.lines.some((l) => l.text.includes('is a candidate')), 'c3 candidate', 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${dump()}`);
    });

    dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${ports[0]?.of}` });
    const bridges = dc.plan.bridges.map((b) => b.name);
    assert.equal(bridges.length, BRIDGES);
    await connectAll(dc.ovs, bridges, ports.map((p) => p.of));
    const ovs = dc.ovs;
    const masterIs = async (port: number): Promise<boolean> => {
      const roles = await rolesByPort(ovs);
      const others = ports.map((p) => p.of).filter((p) => p !== port);
      return roles.get(port)?.master === BRIDGES && others.every((p) => (roles.get(p)?.master ?? 0) === 0);
    };
    await waitFor(() => masterIs(ports[0]?.of as number), 'c1 MASTER on all 18 switches', 30_000).catch(fail);
    await waitFor(async () => {
      const r = await rolesByPort(ovs);
      return ports.slice(1).every((p) => r.get(p.of)?.slave === BRIDGES);
    }, 'c2, c3 SLAVE on all 18 switches', 30_000);

    // VMs say hello as booting VMs do, then the scenario's traffic; the leader measures every flow
    await Promise.all(model.vms.map((vm) => dc!.announce(vm, 1)));
    await waitFor(async () => (await api<unknown[]>(apiOf(0), 'GET', '/hosts')).length === model.vms.length, 'every VM seen by c1', 20_000).catch(fail);
    traffic = await startTraffic(dc);
    const prefix = dc.prefix;
    // one agent per hypervisor, all pointed at c3 (it forwards to the leader)
    for (const h of model.scenario.hypervisors) {
      // each agent its own credential, issued through c3 (forwarded to the leader, kept in etcd)
      const { token } = await api<{ token: string }>(apiOf(2), 'POST', '/credentials', { hypervisor: h.id });
      const child = spawn(process.execPath, [BIN, 'agent', '--controller', apiOf(2), '--hypervisor', h.id, '--driver', 'emulated', '--emulation-prefix', prefix, '--scenario', loaded.file, '--listen', '127.0.0.1:0', '--check-ms', '1000'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SCORE_AGENT_TOKEN: token },
      });
      const take = (b: Buffer): void => {
        for (const l of b.toString().split('\n')) if (l.trim() !== '') agentLines.push(`${h.id}: ${l}`);
      };
      child.stdout?.on('data', take);
      child.stderr?.on('data', take);
      agents.push(child);
    }
    await waitFor(async () => (await api<Hypervisor[]>(apiOf(2), 'GET', '/hypervisors')).every((h) => h.agent !== null), 'every agent registered (through c3)', 60_000).catch(fail);
    // a full rate window before the first decision
    await new Promise((r) => setTimeout(r, 6000));
    const initial = new Map(model.vms.map((vm) => [vm, model.placement.get(vm) as string]));
    assert.ok(totalCost(initial, model.traffic, model.oracle) > 0, 'the paper placement starts above cost 0');

    // every communicating pair, pinged every 20 ms throughout (from the flow's source)
    const pairs = model.flows.filter((f, i) => model.flows.findIndex((g) => (g.src === f.dst && g.dst === f.src) || (g.src === f.src && g.dst === f.dst)) === i);
    const pings = pairs.map((f) => ({ src: f.src, dst: f.dst, run: startPing(dc!.vmNamespace(f.src), model.vmInfo.get(f.dst)?.ip as string, 0.02) }));
    t.after(() => Promise.all(pings.map((p) => p.run.stop())));
    await waitFor(() => pings.every((p) => p.run.replies.length >= 10), 'every pair answering pings', 30_000);
    say(`pinging ${pings.length} communicating pairs every 20 ms: ${pings.map((p) => `${p.src}->${p.dst}`).join(', ')}`);

    // the orchestration is started through c3, a follower: it reaches the leader
    await api(apiOf(2), 'POST', '/orchestration/start', { policy: 'la' });
    say('Load-Aware started (POST to c3, forwarded to c1)');

    // the controllers' agent-call key, as every member reads it from etcd
    const calls = controllerCredential(await sharedControllerKey(client, 'score/default/'));
    const failovers: { killed: string; when: string; electedMs: number; masterMs: number; ovsdbMs: number; resumedMs: number; takeoverMs: number; takeover: string }[] = [];
    let alive = [0, 1, 2];
    let inFlight: MigrationRecord | undefined;
    for (const when of ['between', 'during'] as const) {
      const leaderIdx = alive.find(leads) as number;
      const leader = procs[leaderIdx] as ControllerProcess;
      const gen = (await api<{ generation: string }>(apiOf(leaderIdx), 'GET', '/cluster')).generation;
      const mine = async (): Promise<MigrationRecord[]> => (await records()).filter((r) => r.id.startsWith(`g${gen}-`));
      if (when === 'between') {
        // a migration of this leader finished, none begun since: the leader is settling
        await waitFor(async () => {
          const rs = await mine();
          return rs.some((r) => r.status === 'succeeded') && rs.every((r) => r.finishedAt !== null);
        }, `a finished migration of ${leader.id}`, 120_000).catch(fail);
      } else {
        // a migration of this leader whose agent is moving the VM right now
        await waitFor(async () => {
          const open = (await mine()).find((r) => r.status === 'started' && r.finishedAt === null);
          if (open === undefined) return undefined;
          const hvs = await api<Hypervisor[]>(apiOf(2), 'GET', '/hypervisors').catch(() => [] as Hypervisor[]);
          const url = hvs.find((h) => h.name === open.from)?.agent;
          if (url === undefined || url === null) return undefined;
          const x = await agentMigrationOutcome(url, open.id, calls.tokenFor(open.from)).catch(() => null);
          if (x?.state !== 'running') return undefined;
          inFlight = open;
          return true;
        }, `a migration of ${leader.id} in its agent's hands`, 120_000, 20).catch(fail);
      }
      // a rule of the leader's generation that no successor re-installs (no VM has this MAC): the
      // takeover must find it and delete it by cookie and mask, on real OVS
      const marker = `0x${(generationCookie(generationSlot(BigInt(gen))) | 0xffff_fff0n).toString(16)}`;
      await ofctl(ovs, 'add-flow', bridges[0] as string, `cookie=${marker},priority=100,dl_dst=02:ff:ff:ff:ff:01,actions=drop`);
      assert.match(await ofctl(ovs, 'dump-flows', bridges[0] as string, `cookie=${marker}/-1`), /dl_dst=02:ff:ff:ff:ff:01/);
      const killedAt = Date.now();
      leader.child.kill('SIGKILL');
      say(`${leader.id} SIGKILLed ${when} migrations${inFlight && when === 'during' ? ` (${inFlight.id}: ${inFlight.vm} leaving ${inFlight.from})` : ''}`);
      alive = alive.filter((i) => i !== leaderIdx);
      const next = await waitFor(() => alive.find(leads), `a new leader after killing ${leader.id}`, 15_000).catch(fail);
      const nextProc = procs[next] as ControllerProcess;
      const electedAt = nextProc.lines.find((l) => l.text.includes(`${nextProc.id} is LEADER`))?.at ?? 0;
      const confirmed = await waitFor(() => nextProc.lines.find((l) => /cluster: MASTER on \d+ of \d+ switches/.test(l.text)), `${nextProc.id} role replies`, 15_000);
      assert.match(confirmed.text, new RegExp(`MASTER on ${BRIDGES} of ${BRIDGES} switches`), 'every switch answered ROLE_REPLY MASTER');
      await waitFor(() => masterIs(ports[next]?.of as number), `${nextProc.id} MASTER on all switches`, 15_000, 20).catch(fail);
      const ovsdbMs = Date.now() - killedAt;
      const roles = await rolesByPort(ovs);
      for (const i of alive.filter((i) => i !== next)) assert.equal(roles.get(ports[i]?.of as number)?.slave, BRIDGES, `${ids[i]} SLAVE everywhere`);
      const resumed = await waitFor(() => nextProc.lines.find((l) => l.text.includes('cluster: orchestration (load-aware) continues')), `${nextProc.id} continuing the orchestration`, 60_000).catch(fail);
      // make before break: the new leader routed its predecessor's pairs, then deleted the older
      // generations' rules on every switch (src/cluster/takeover.ts)
      const takeover = await waitFor(() => nextProc.lines.find((l) => l.text.includes('cluster takeover: ') && l.text.includes('older generations deleted')), `${nextProc.id} taking over the rules`, 30_000).catch(fail);
      assert.match(takeover.text, new RegExp(`older generations deleted on ${BRIDGES} switches`), 'every switch cleaned of the older generations');
      assert.doesNotMatch(takeover.text, /abandoned/);
      assert.match(takeover.text, /\(([1-9]\d*) deletes\)/, 'the marker rule of the old generation at least');
      assert.doesNotMatch(await ofctl(ovs, 'dump-flows', bridges[0] as string, `cookie=${marker}/-1`), /dl_dst/, `the old generation's marker rule (${marker}) deleted`);
      say(`${nextProc.id} took the rules over at ${((takeover.at - t0) / 1000).toFixed(1)} s (elected at ${((electedAt - t0) / 1000).toFixed(1)} s)`);
      failovers.push({ killed: leader.id, when, electedMs: electedAt - killedAt, masterMs: confirmed.at - killedAt, ovsdbMs, resumedMs: resumed.at - killedAt, takeoverMs: takeover.at - killedAt, takeover: takeover.text.replace(/^.*cluster takeover: /, '').replace(/"}$/, '') });
      say(`${nextProc.id} leads: ${resumed.text.replace(/^.*cluster: /, '').replace(/"}$/, '')}`);
    }

    // the last leader (c3) runs the orchestration to its end
    const last = alive[0] as number;
    assert.equal(alive.length, 1);
    const end = await waitFor(async () => {
      const o = await api<Orchestration>(apiOf(last), 'GET', '/orchestration');
      return o.state === 'idle' && o.policy !== null ? o : undefined;
    }, 'the orchestration ending on c3', 180_000, 500).catch(fail);
    await Promise.all(pings.map((p) => p.run.stop()));
    say(`orchestration ended: ${JSON.stringify(end)}`);
    assert.equal(end.lastError, null);
    assert.equal(end.converged, true, 'Load-Aware converged');

    // every VM at exactly one place: the cabling (read fresh from OVS) and the leader agree
    const truth = await attachDataCentre(model, prefix);
    const finalPlace = new Map(model.vms.map((vm) => [vm, truth.hypervisorOf(vm)]));
    const hvs = await api<Hypervisor[]>(apiOf(last), 'GET', '/hypervisors');
    const listed = hvs.flatMap((h) => h.vms.map((vm) => [vm, h.name] as const));
    assert.equal(listed.length, model.vms.length, `each VM listed once: ${JSON.stringify(listed)}`);
    for (const [vm, h] of listed) assert.equal(h, finalPlace.get(vm), `${vm}: the leader says ${h}, the cabling ${finalPlace.get(vm) ?? '?'}`);
    // the records in etcd: all finished; per VM the succeeded ones chain from its first place to its last
    const all = (await records()).sort((a, b) => a.startedAt - b.startedAt);
    const cost = totalCost(finalPlace, model.traffic, model.oracle);
    assert.equal(cost, 0, `cost at the end: ${cost}\nrecords: ${all.map((r) => `${r.id} ${r.vm} ${r.from}->${r.to ?? '-'} ${r.status}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`).join('; ')}\n${measured(all)}\n${agentLines.slice(-60).join('\n')}`);

    assert.equal(new Set(all.map((r) => r.id)).size, all.length);
    const unfinished = all.filter((r) => r.finishedAt === null);
    assert.deepEqual(unfinished.map((r) => r.id), [], 'no record left unfinished');
    const moves = all.filter((r) => r.status === 'succeeded');
    const story = (): string =>
      `records: ${all.map((r) => `${r.id} ${r.vm} ${r.from}->${r.to ?? '-'} ${r.status}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`).join('; ')}\n` +
      `${measured(all)}\n` +
      procs.map((p) => p.lines.filter((l) => /cluster: (migration|warm-up|orchestration|\d+ agent|stored agent)/.test(l.text)).map((l) => `${p.id}: ${l.text}`).join('\n')).join('\n');
    say(story());
    for (const vm of model.vms) {
      let at = initial.get(vm) as string;
      for (const r of moves.filter((m) => m.vm === vm)) {
        assert.equal(r.from, at, `${r.id}: ${vm} moved from ${r.from} but was on ${at} (a doubled or lost record)\n${story()}`);
        assert.notEqual(r.to, null);
        at = r.to as string;
      }
      assert.equal(at, finalPlace.get(vm), `${vm}: the records end on ${at}, the VM is on ${finalPlace.get(vm) ?? '?'} (a lost record)\n${story()}\n${agentLines.join('\n')}`);
    }
    assert.ok(inFlight !== undefined, 'inFlight !== undefined');
    const settled = all.find((r) => r.id === inFlight?.id);
    assert.ok(settled !== undefined && (settled.status === 'succeeded' || settled.status === 'failed'), `the migration in flight at the kill is reconciled: ${JSON.stringify(settled)}`);
    const gens = new Set(moves.map((r) => r.id.split('-')[0]));
    assert.ok(gens.size >= 2, `migrations by more than one leader: ${moves.map((r) => r.id).join(', ')}`);

    // when each pair's longest gap began (s since the test's start), to tell a takeover from a move
    const gapStart = (rs: readonly number[]): string => {
      let at = 0;
      let best = -1;
      for (let i = 1; i < rs.length; i++) {
        const d = (rs[i] as number) - (rs[i - 1] as number);
        if (d > best) [best, at] = [d, rs[i - 1] as number];
      }
      return ((at * 1000 - t0) / 1000).toFixed(1);
    };
    const gaps = pings.map((p) => ({ pair: `${p.src}->${p.dst}`, inFlight: p.src === inFlight?.vm || p.dst === inFlight?.vm, replies: p.run.replies.length, gap: p.run.maxGapMs(), from: gapStart(p.run.replies) }));
    // every silence of 1 s or more, and whether one of the pair's own VMs was migrating then (its
    // record's window, from asking the agent to the record's end, plus the re-learning after it)
    const silences = pings.flatMap((p) => {
      const out: { pair: string; fromMs: number; ms: number; migration: string | null }[] = [];
      const rs = p.run.replies;
      for (let i = 1; i < rs.length; i++) {
        const a = (rs[i - 1] as number) * 1000;
        const b = (rs[i] as number) * 1000;
        if (b - a < 1000) continue;
        const own = all.find((r) => (r.vm === p.src || r.vm === p.dst) && r.status === 'succeeded' && r.startedAt - 500 <= b && (r.finishedAt ?? Infinity) + 2000 >= a);
        out.push({ pair: `${p.src}->${p.dst}`, fromMs: Math.round(a - t0), ms: Math.round(b - a), migration: own === undefined ? null : `${own.id} ${own.vm}` });
      }
      return out;
    });
    say(`failovers (lease ttl ${LEASE_TTL_S} s): ${failovers.map((f) => `${f.killed} killed ${f.when} migrations -> next leader elected ${f.electedMs} ms, ROLE_REPLY MASTER from 18 switches ${f.masterMs} ms, seen in OVSDB ${f.ovsdbMs} ms, orchestration continued ${f.resumedMs} ms, old rules replaced ${f.takeoverMs} ms (${f.takeover})`).join('; ')}`);
    say(`migrations: ${moves.map((r) => `${r.id} ${r.vm} ${r.from}->${r.to ?? '?'}`).join(', ')}; in flight at the 2nd kill: ${settled.id} ${settled.status}`);
    say(`longest ping gap per pair: ${gaps.map((g) => `${g.pair} ${g.gap} ms from ${g.from} s (${g.replies} replies)${g.inFlight ? ' [the VM in flight]' : ''}`).join(', ')}`);
    say(`migration windows: ${all.filter((r) => r.status === 'succeeded').map((r) => `${r.id} ${r.vm} ${((r.startedAt - t0) / 1000).toFixed(1)}–${(((r.finishedAt ?? r.startedAt) - t0) / 1000).toFixed(1)} s`).join(', ')}`);
    for (const f of failovers) assert.ok(f.electedMs < LEASE_TTL_S * 1000 + 3000, `elected ${f.electedMs} ms after the kill: within 3 s of the ${LEASE_TTL_S} s lease expiring`);
    say(`silences of 1 s or more: ${silences.length === 0 ? 'none' : silences.map((x) => `${x.pair} ${x.ms} ms at ${(x.fromMs / 1000).toFixed(1)} s${x.migration === null ? '' : ` (during its VM's migration ${x.migration})`}`).join(', ')}`);
    // The issue's bound, for every communicating pair: neither the failovers nor a migration (the
    // one in flight at the kill included) leaves a pair without a reply for 1 s.
    assert.deepEqual(
      silences.map((x) => `${x.pair}: silent ${x.ms} ms at ${(x.fromMs / 1000).toFixed(1)} s${x.migration === null ? ' with neither VM migrating' : ` during its VM's migration ${x.migration}`}${x.pair.split('->').includes(settled.vm) ? ' (the VM in flight at the kill)' : ''}`),
      [],
      'no communicating pair may go 1 s without a ping reply',
    );
    for (const g of gaps) assert.ok(g.gap < 1000, `${g.pair}: longest ping gap ${g.gap} ms (must stay under 1 s)`);
  } finally {
    await Promise.all(
      agents.map(
        (a) =>
          new Promise<void>((resolve) => {
            if (a.exitCode !== null || a.signalCode !== null) return resolve();
            a.once('exit', () => resolve());
            a.kill('SIGTERM');
          }),
      ),
    );
    await traffic?.stop();
    await killAll(procs);
    await dc?.stop();
    client.close();
    await etcd.stop();
  }
});
