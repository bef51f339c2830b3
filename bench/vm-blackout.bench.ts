/**
 * Blackout as peers see it: a real QEMU guest live-migrated through QMP (src/vm) beside a
 * namespace VM re-cabled by the emulated driver, in one run on one emulated data centre with the
 * controller following, the two kinds alternating. A peer namespace pings the moving VM every
 * 10 ms (ping -D: receive times). Per migration it records where the time goes, on one clock
 * (the host's real-time clock: QMP event timestamps, ping -D, the controller's Date):
 *   QEMU STOP on the source -> RESUME on the destination -> the controller learns the new place
 *   (RARP packet-in, or the driver's early report) -> first flow-mod for the VM sent -> the
 *   switches' barrier reply -> the peer's first answer after the gap.
 * The blackout is given both ways (src/agent/drivers/probe.ts): the longest run of lost probes
 * × 10 ms, and the longest wait (a probe sent until the peer heard back), which also counts
 * probes held and answered late. (An agent-reported move is stamped at its flow-mods: the
 * controller sends them in the same call.) Prints one JSON object: p50, p95, max per kind, medians of each step, the
 * machine's load average before and after.
 * A third kind, 'qemu-pause', is the control: right after each QEMU migration the same guest is
 * paused in place (QMP stop, cont) for as long as that migration's STOP -> RESUME took. Same
 * pause, same peer, same network, but no move: its translation cache stays warm. The TCG
 * translation blocks each QEMU made afterwards (HMP `info jit`, TB count: a destination QEMU's
 * are all made after it resumed) say what the guest had to translate anew before answering.
 * With --boost N a fourth kind, 'qemu-boost', alternates with 'qemu': the same guest migrated with
 * both QEMUs' scheduling autogroup at nice N (/proc/PID/autogroup; each QEMU is its own session,
 * so its own autogroup: a per-process nice would not weigh against other sessions' work).
 * With --boost-network N the network's processes get that weight for the whole run, for every kind:
 * ovs-vswitchd (its own session: --detach) and this process (the controller; its session's autogroup,
 * put back at the end), as a data centre's switches and controller do not share their CPUs.
 *   sudo node --import tsx bench/vm-blackout.bench.ts [--migrations 20] [--memory 96] [--no-pause] [--downtime-limit MS] [--boost=N] [--boost-network=N] [--trace FILE]
 * (--trace: every migration's stamps and the peer's answers as JSON lines, for a closer look;
 * --no-switchover-report: the controller learns the move from the data plane only, as before)
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { appendFileSync, readFileSync } from 'node:fs';
import { parseScenario } from '../src/scenario/load.ts';
import { buildModel } from '../src/scenario/model.ts';
import { openflowDataPlane } from '../src/openflow/connection/index.ts';
import { silentLog } from '../src/openflow/connection/log.ts';
import { realClock } from '../src/runtime/clock.ts';
import { startStack } from '../src/system/stack.ts';
import { buildDataCentre } from '../src/emulation/datacentre.ts';
import { isRoot } from '../src/emulation/system-gate.ts';
import { buildImage } from '../src/image/build.ts';
import { emulatedDriver } from '../src/agent/drivers/emulated.ts';
import { qemuDriver } from '../src/agent/drivers/qemu.ts';
import { longestLossMs, longestWait, probeTimeline, type ProbeTimeline } from '../src/agent/drivers/probe.ts';
import { fleetOf, guestInsteadOfNamespace, readRecord, type GuestRecord } from '../src/vm/fleet.ts';
import { withQmp } from '../src/vm/qemu.ts';
import { checkedNice, parseAutogroup, setCpuNice } from '../src/vm/sched.ts';
import type { QmpEvent } from '../src/vm/qmp.ts';
import type { DataPlane, DataPlaneEvents } from '../src/runtime/dataplane.ts';
import type { SwitchCommand } from '../src/controller/commands.ts';
import { median } from './support.ts';
import { controllerApi } from '../src/agent/api-client.ts';

const { values } = parseArgs({ options: { migrations: { type: 'string', default: '20' }, memory: { type: 'string', default: '96' }, trace: { type: 'string' }, 'no-switchover-report': { type: 'boolean', default: false }, 'no-pause': { type: 'boolean', default: false }, 'downtime-limit': { type: 'string' }, boost: { type: 'string' }, 'boost-network': { type: 'string' } } });
// checked before anything starts: a bad value must not leave a half-built data centre behind
const boostNetwork = values['boost-network'] === undefined ? undefined : checkedNice(Number(values['boost-network']));
const boost = values.boost === undefined ? undefined : checkedNice(Number(values.boost));
const withPause = !values['no-pause'];
const early = !values['no-switchover-report'];
if (!isRoot()) {
  console.log(JSON.stringify({ bench: 'vm-blackout', skipped: 'needs root, Open vSwitch and QEMU' }));
  process.exit(0);
}
const model = buildModel(
  parseScenario(
    `
name: blackout
switches: [{ id: s1 }]
hypervisors: [{ id: h1 }, { id: h2 }, { id: h3 }]
links: [{ a: h1, b: s1, capacity: 1Gbps }, { a: h2, b: s1, capacity: 1Gbps }, { a: h3, b: s1, capacity: 1Gbps }]
vms:
  - { name: guest, ip: 10.9.2.1, mac: "02:00:00:00:02:01", host: h1 }
  - { name: ns, ip: 10.9.2.2, mac: "02:00:00:00:02:02", host: h1 }
  - { name: peer, ip: 10.9.2.3, mac: "02:00:00:00:02:03", host: h3 }
traffic:
  - { src: guest, dst: peer, packetBytes: 100, pps: 10 }
`,
    'blackout.yaml',
  ),
);
const macOf = (vm: string): string => model.vmInfo.get(vm)!.mac;

/** ms since the epoch, sub-millisecond: the clock QMP's timestamps and ping -D use */
const wall = (): number => performance.timeOrigin + performance.now();

/** What happened to one VM's move, on the wall clock. */
interface Trace {
  mac: string;
  start: number;
  qmp: Array<{ side: string; what: string; at: number }>;
  /** when the input (packet-in, port status, agent report) that placed the VM anew arrived */
  hostMoved?: { at: number; via: string };
  /** flow-adds for the VM's MAC sent, and barrier replies, in order */
  flowMods: number[];
  accepted: number[];
  portStatus: Array<{ at: number; reason: string }>;
  /** RARP packet-ins from the VM's MAC (QEMU's self-announcements) */
  rarp: number[];
  /** the machine's 1-minute load average when the migration began */
  load: number;
}
let tracing: Trace | undefined;
/** when the data-plane input being handled now arrived (the controller handles it synchronously) */
let inputAt = 0;

/** The OpenFlow data plane with a tap on the way: when the VM's rules leave and are confirmed. */
function tapped(dp: ReturnType<typeof openflowDataPlane>): DataPlane & { address(): { port: number } } {
  const concerns = (c: SwitchCommand, mac: string): boolean => c.kind === 'flow-add' && (c.rule.match.ethSrc === mac || c.rule.match.ethDst === mac);
  return {
    address: () => dp.address(),
    stop: () => dp.stop(),
    start: (ev: DataPlaneEvents) =>
      dp.start({
        ...ev,
        switchUp(ch) {
          ev.switchUp({
            ...ch,
            dpid: ch.dpid,
            ports: ch.ports,
            flowStats: () => ch.flowStats(),
            portStats: () => ch.portStats(),
            send(commands) {
              const t = tracing;
              if (t !== undefined && commands.some((c) => concerns(c, t.mac))) t.flowMods.push(wall());
              ch.send(commands);
            },
          });
        },
        packetIn(dpid, inPort, frame) {
          inputAt = wall();
          const t = tracing;
          // a RARP (0x8035) from the moving VM's MAC: QEMU announcing the guest at its new place
          if (t !== undefined && frame.length >= 14 && frame[12] === 0x80 && frame[13] === 0x35 && macText(frame.subarray(6, 12)) === t.mac) t.rarp.push(inputAt);
          ev.packetIn(dpid, inPort, frame);
        },
        portStatus(dpid, port, reason) {
          inputAt = wall();
          tracing?.portStatus.push({ at: inputAt, reason });
          ev.portStatus(dpid, port, reason);
        },
        flowsAccepted(dpid, cookies) {
          tracing?.accepted.push(wall());
          ev.flowsAccepted(dpid, cookies);
        },
      }),
  };
}

const macText = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}
const round = (x: number): number => Math.round(x * 10) / 10;
const summary = (xs: readonly number[]): { p50: number; p95: number; max: number; runs: readonly number[] } => ({ p50: round(median(xs)), p95: round(quantile(xs, 0.95)), max: round(Math.max(...xs)), runs: xs.map(round) });

interface Measured {
  lossMs: number;
  waitMs: number;
  steps: Record<string, number>;
}

/** One migration's figures: blackout both ways, and the steps between the trace's stamps. */
type Kind = 'qemu' | 'qemu-boost' | 'qemu-pause' | 'namespace';
function measure(t: Trace, p: ProbeTimeline, kind: Kind): Measured {
  const wait = longestWait(p);
  const at = (side: string, what: string): number => t.qmp.find((e) => e.side === side && e.what === what)?.at ?? NaN;
  const isQemu = kind !== 'namespace';
  const stop = isQemu ? at('source', 'STOP') : t.start;
  const resume = isQemu ? at('destination', 'RESUME') : NaN;
  const d = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? NaN : round(b - a));
  const known = t.hostMoved?.at;
  const flowMod = known === undefined ? undefined : t.flowMods.find((x) => x >= known);
  const accepted = flowMod === undefined ? undefined : t.accepted.find((x) => x >= flowMod);
  return {
    lossMs: longestLossMs(p),
    waitMs: round(wait.ms),
    steps: {
      ...(isQemu ? { stopToResume: d(stop, resume), stopToControllerKnows: d(stop, t.hostMoved?.at), resumeToControllerKnows: d(resume, t.hostMoved?.at), resumeToFirstRarp: d(resume, t.rarp[0]), resumeToFirstAnswer: d(resume, wait.answeredAtMs) } : { startToControllerKnows: d(stop, t.hostMoved?.at) }),
      controllerKnowsToFlowMod: d(known, flowMod),
      flowModToBarrier: d(flowMod, accepted),
      barrierToFirstAnswer: d(accepted, wait.answeredAtMs),
      waitingProbeSentToStop: d(wait.sentAtMs, stop),
    },
  };
}

const load = { before: loadavg().map(round) };
const image = await buildImage();
const dataPlane = tapped(openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog }));
const stack = await startStack({
  model,
  dataPlane,
  clock: realClock,
  pollMs: 1000,
  probeMs: 1000,
  webDir: null,
  tokens: { operator: 'bench-operator', agent: 'bench-agent' },
  allowSharedAgentToken: true,
  onWarning: () => undefined,
  onEvent(e) {
    const t = tracing;
    // after a PORT_STATUS delete took the VM off its old port, its announcement is a host-added
    if (t !== undefined && (e.type === 'host-moved' || e.type === 'host-added') && e.mac === t.mac && t.hostMoved === undefined) t.hostMoved = { at: e.type === 'host-moved' && e.via === 'agent' ? (t.flowMods.at(-1) ?? wall()) : inputAt, via: e.type === 'host-moved' ? e.via : 'new' };
  },
});
const dc = await buildDataCentre(model, { controller: `tcp:127.0.0.1:${dataPlane.address().port}`, shape: false });
const ownNiceBefore = parseAutogroup(readFileSync('/proc/self/autogroup', 'utf8'));
const kinds: Kind[] = ['qemu', ...(boost !== undefined ? (['qemu-boost'] as const) : []), ...(withPause ? (['qemu-pause'] as const) : []), 'namespace'];
const perKind = <T>(): Record<Kind, T[]> => ({ qemu: [], 'qemu-boost': [], 'qemu-pause': [], namespace: [] });
const results = perKind<Measured>();
const vias = perKind<string>();
const loads = perKind<number>();
const qemuDowntime = perKind<number>();
const qemuTotal = perKind<number>();
/** translation blocks a QEMU made: a destination's since it resumed, a paused guest's in the 800 ms after cont */
const tbsMade = perKind<number>();
/** a QEMU's CPU weight (src/vm/sched.ts: its own session's autogroup) */
const autogroupNice = (pid: number, nice: number): void => void setCpuNice(pid, nice);
const tbCount = async (g: Pick<GuestRecord, 'qmpSocket'>): Promise<number> => Number(/TB count\s+(\d+)/.exec(await withQmp(g, (qq) => qq.execute<string>('human-monitor-command', { 'command-line': 'info jit' })))?.[1] ?? NaN);
const qmpAt = (e: QmpEvent): number => (e.timestamp === undefined ? wall() : e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000);
try {
  if (boostNetwork !== undefined) {
    setCpuNice(dc.ovs.vswitchdPid, boostNetwork);
    setCpuNice(process.pid, boostNetwork);
  }
  await guestInsteadOfNamespace(dc, model, 'guest', { image, memoryMiB: Number(values.memory) });
  await dc.announce('ns');
  await dc.announce('peer');
  // let the controller install paths both ways before measuring
  await dc.exec('peer', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.9.2.1').catch(() => undefined);
  await dc.exec('peer', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.9.2.2').catch(() => undefined);
  const peerNs = dc.vmNamespace('peer');
  const api = controllerApi(stack.apiUrl, 'bench-agent');
  // an agent has talked to the API before it migrates (its decision's inputs): so has this one
  await api.hypervisors();
  const q = qemuDriver({
    run: fleetOf(dc),
    ...(values['downtime-limit'] !== undefined ? { downtimeLimitMs: Number(values['downtime-limit']) } : {}),
    onQmpEvent: (side, e) => tracing?.qmp.push({ side, what: e.event, at: qmpAt(e) }),
  });
  const qb = qemuDriver({
    run: fleetOf(dc),
    ...(values['downtime-limit'] !== undefined ? { downtimeLimitMs: Number(values['downtime-limit']) } : {}),
    onQmpEvent: (side, e) => tracing?.qmp.push({ side, what: e.event, at: qmpAt(e) }),
    onDestinationReady: (d) => autogroupNice(d.pid, boost ?? 0),
  });
  const n = emulatedDriver({ model, prefix: dc.prefix, dc, probeAfterMs: 0 });
  /** the last QEMU migration's STOP -> RESUME, ms: how long the control pauses the guest */
  let lastPauseMs = 35;
  const one = async (kind: Kind, vm: string, ip: string, from: string, to: string): Promise<void> => {
    const p = probeTimeline(peerNs, ip);
    await new Promise((res) => setTimeout(res, 300));
    const t: Trace = { mac: macOf(vm), start: wall(), qmp: [], flowMods: [], accepted: [], portStatus: [], rarp: [], load: round(loadavg()[0]!) };
    tracing = t;
    // as an agent does (src/agent/agent.ts): the switch-over goes to the controller's API at once
    const hooks = early ? { onSwitchover: (hv: string, port: number) => api.migrationDone(vm, hv, 'bench', port).then(() => undefined) } : {};
    let r: { figures?: { downtimeMs: number | null; totalTimeMs: number } } = {};
    if (kind === 'qemu-pause') {
      // the control: the same guest paused where it is, no move (the controller is told nothing)
      const g = readRecord(fleetOf(dc), vm)!;
      await withQmp(g, async (qq) => {
        qq.onEvent((e) => t.qmp.push({ side: e.event === 'STOP' ? 'source' : 'destination', what: e.event, at: qmpAt(e) }));
        const before = Number(/TB count\s+(\d+)/.exec(await qq.execute<string>('human-monitor-command', { 'command-line': 'info jit' }))?.[1] ?? NaN);
        await qq.execute('stop');
        await new Promise((res) => setTimeout(res, Math.max(0, lastPauseMs - 3)));
        await qq.execute('cont');
        await new Promise((res) => setTimeout(res, 800));
        tbsMade[kind].push(Number(/TB count\s+(\d+)/.exec(await qq.execute<string>('human-monitor-command', { 'command-line': 'info jit' }))?.[1] ?? NaN) - before);
      });
    } else {
      // the source's autogroup as the kind wants it (the last boosted migration left it boosted)
      if (kind !== 'namespace') autogroupNice(readRecord(fleetOf(dc), vm)!.pid, kind === 'qemu-boost' ? (boost ?? 0) : 0);
      r = await (kind === 'namespace' ? n : kind === 'qemu-boost' ? qb : q).migrate(vm, from, to, hooks);
      await new Promise((res) => setTimeout(res, 800));
      if (kind !== 'namespace') tbsMade[kind].push(await tbCount(readRecord(fleetOf(dc), vm)!));
    }
    tracing = undefined;
    const timeline = await p.stop();
    results[kind].push(measure(t, timeline, kind));
    if (values.trace !== undefined) appendFileSync(values.trace, `${JSON.stringify({ kind, trace: t, replies: timeline.replies.map((x) => [x.seq, round(x.atMs - t.start), x.rttMs]) })}\n`);
    vias[kind].push(t.hostMoved?.via ?? 'none');
    loads[kind].push(t.load);
    if (kind === 'qemu' || kind === 'qemu-boost') {
      qemuDowntime[kind].push(r.figures!.downtimeMs ?? NaN);
      qemuTotal[kind].push(r.figures!.totalTimeMs);
      const ms = results[kind].at(-1)!.steps.stopToResume!;
      if (kind === 'qemu' && Number.isFinite(ms)) lastPauseMs = ms;
    }
  };
  const other = (hv: string): string => (hv === 'h1' ? 'h2' : 'h1');
  let guestAt = 'h1';
  let nsAt = 'h1';
  for (let i = 0; i < Number(values.migrations); i++) {
    await one('qemu', 'guest', '10.9.2.1', guestAt, other(guestAt));
    guestAt = other(guestAt);
    if (withPause) await one('qemu-pause', 'guest', '10.9.2.1', guestAt, guestAt);
    if (boost !== undefined) {
      await one('qemu-boost', 'guest', '10.9.2.1', guestAt, other(guestAt));
      guestAt = other(guestAt);
    }
    await one('namespace', 'ns', '10.9.2.2', nsAt, other(nsAt));
    nsAt = other(nsAt);
  }
} finally {
  // our own weight first: the session's autogroup may be the caller's shell too
  if (boostNetwork !== undefined && ownNiceBefore !== undefined) setCpuNice(process.pid, ownNiceBefore);
  await dc.stop();
  await stack.stop();
}
const stepMedians = (ms: Measured[]): Record<string, number> => Object.fromEntries(Object.keys(ms[0]?.steps ?? {}).map((k) => [k, round(median(ms.map((m) => m.steps[k]!).filter((x) => !Number.isNaN(x))))]));
const ofKind = (k: Kind): Record<string, unknown> => ({
  waitMs: summary(results[k].map((m) => m.waitMs)),
  lostRunMs: summary(results[k].map((m) => m.lossMs)),
  ...(k === 'qemu' || k === 'qemu-boost' ? { qemuDowntimeMs: summary(qemuDowntime[k]), qemuTotalMs: summary(qemuTotal[k]) } : {}),
  ...(k === 'namespace' ? {} : { translationBlocksMade: summary(tbsMade[k]) }),
  stepMediansMs: stepMedians(results[k]),
  learnedVia: vias[k],
  loadAtStart: summary(loads[k]),
  steps: results[k].map((m) => m.steps),
});
const p95 = (k: Kind, f: (m: Measured) => number): number => quantile(results[k].map(f), 0.95);
console.log(
  JSON.stringify(
    {
      bench: 'vm-blackout',
      probeIntervalMs: 10,
      migrations: results.qemu.length,
      guestMemoryMiB: Number(values.memory),
      downtimeLimitMs: values['downtime-limit'] === undefined ? 300 : Number(values['downtime-limit']),
      loadAverage: { ...load, after: loadavg().map(round) },
      ...Object.fromEntries(kinds.map((k) => [k, ofKind(k)])),
      switchoverReport: early,
      ratioP50: +(median(results.qemu.map((m) => m.waitMs)) / Math.max(1, median(results.namespace.map((m) => m.waitMs)))).toFixed(2),
      ...(boostNetwork !== undefined ? { networkAutogroupNice: boostNetwork } : {}),
      ...(boost !== undefined ? { boostAutogroupNice: boost, boostToPlainWaitP50: +(median(results['qemu-boost'].map((m) => m.waitMs)) / median(results.qemu.map((m) => m.waitMs))).toFixed(2), boostToPlainResumeToAnswerP50: +(median(results['qemu-boost'].map((m) => m.steps.resumeToFirstAnswer!)) / median(results.qemu.map((m) => m.steps.resumeToFirstAnswer!))).toFixed(2) } : {}),
      target: Object.fromEntries(kinds.filter((k) => k !== 'namespace').map((k) => [k, { p95Ms: 50, metByWait: p95(k, (m) => m.waitMs) < 50, metByLostRun: p95(k, (m) => m.lossMs) < 50 }])),
      note: 'TCG guests on a shared 2-core machine; wait = the longest a probe waited until the peer heard back (its answer or a later one); lostRun = longest run of unanswered probes × 10 ms; qemu-pause = the same guest paused in place as long as the migration before paused it (no move, warm translation cache); translationBlocksMade = TCG blocks translated after RESUME (migration: by ~1 s after; pause: within 800 ms of cont)',
    },
    null,
    2,
  ),
);
