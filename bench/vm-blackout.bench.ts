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
 *   sudo node --import tsx bench/vm-blackout.bench.ts [--migrations 6] [--memory 96] [--trace FILE]
 * (--trace: every migration's stamps and the peer's answers as JSON lines, for a closer look;
 * --no-switchover-report: the controller learns the move from the data plane only, as before)
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { appendFileSync } from 'node:fs';
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
import { fleetOf, guestInsteadOfNamespace } from '../src/vm/fleet.ts';
import type { DataPlane, DataPlaneEvents } from '../src/runtime/dataplane.ts';
import type { SwitchCommand } from '../src/controller/commands.ts';
import { median } from './support.ts';
import { controllerApi } from '../src/agent/api-client.ts';

const { values } = parseArgs({ options: { migrations: { type: 'string', default: '6' }, memory: { type: 'string', default: '96' }, trace: { type: 'string' }, 'no-switchover-report': { type: 'boolean', default: false } } });
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
function measure(t: Trace, p: ProbeTimeline, kind: 'qemu' | 'namespace'): Measured {
  const wait = longestWait(p);
  const at = (side: string, what: string): number => t.qmp.find((e) => e.side === side && e.what === what)?.at ?? NaN;
  const stop = kind === 'qemu' ? at('source', 'STOP') : t.start;
  const resume = kind === 'qemu' ? at('destination', 'RESUME') : NaN;
  const d = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? NaN : round(b - a));
  const known = t.hostMoved?.at;
  const flowMod = known === undefined ? undefined : t.flowMods.find((x) => x >= known);
  const accepted = flowMod === undefined ? undefined : t.accepted.find((x) => x >= flowMod);
  return {
    lossMs: longestLossMs(p),
    waitMs: round(wait.ms),
    steps: {
      ...(kind === 'qemu' ? { stopToResume: d(stop, resume), stopToControllerKnows: d(stop, t.hostMoved?.at), resumeToControllerKnows: d(resume, t.hostMoved?.at), resumeToFirstAnswer: d(resume, wait.answeredAtMs) } : { startToControllerKnows: d(stop, t.hostMoved?.at) }),
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
const results: Record<'qemu' | 'namespace', Measured[]> = { qemu: [], namespace: [] };
const vias: Record<'qemu' | 'namespace', string[]> = { qemu: [], namespace: [] };
const qemuDowntime: number[] = [];
const qemuTotal: number[] = [];
try {
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
    onQmpEvent: (side, e) => tracing?.qmp.push({ side, what: e.event, at: e.timestamp === undefined ? wall() : e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000 }),
  });
  const n = emulatedDriver({ model, prefix: dc.prefix, dc, probeAfterMs: 0 });
  const one = async (kind: 'qemu' | 'namespace', vm: string, ip: string, from: string, to: string): Promise<void> => {
    const p = probeTimeline(peerNs, ip);
    await new Promise((res) => setTimeout(res, 300));
    const t: Trace = { mac: macOf(vm), start: wall(), qmp: [], flowMods: [], accepted: [], portStatus: [] };
    tracing = t;
    // as an agent does (src/agent/agent.ts): the switch-over goes to the controller's API at once
    const hooks = early ? { onSwitchover: (hv: string, port: number) => api.migrationDone(vm, hv, 'bench', port).then(() => undefined) } : {};
    const r = await (kind === 'qemu' ? q : n).migrate(vm, from, to, hooks);
    await new Promise((res) => setTimeout(res, 800));
    tracing = undefined;
    const timeline = await p.stop();
    results[kind].push(measure(t, timeline, kind));
    if (values.trace !== undefined) appendFileSync(values.trace, `${JSON.stringify({ kind, trace: t, replies: timeline.replies.map((x) => [x.seq, round(x.atMs - t.start), x.rttMs]) })}\n`);
    vias[kind].push(t.hostMoved?.via ?? 'none');
    if (kind === 'qemu') {
      qemuDowntime.push(r.figures!.downtimeMs ?? NaN);
      qemuTotal.push(r.figures!.totalTimeMs);
    }
  };
  let at = 'h1';
  for (let i = 0; i < Number(values.migrations); i++) {
    const to = at === 'h1' ? 'h2' : 'h1';
    await one('qemu', 'guest', '10.9.2.1', at, to);
    await one('namespace', 'ns', '10.9.2.2', at, to);
    at = to;
  }
} finally {
  await dc.stop();
  await stack.stop();
}
const stepMedians = (ms: Measured[]): Record<string, number> => Object.fromEntries(Object.keys(ms[0]?.steps ?? {}).map((k) => [k, round(median(ms.map((m) => m.steps[k]!).filter((x) => !Number.isNaN(x))))]));
const qs = summary(results.qemu.map((m) => m.waitMs));
const ns = summary(results.namespace.map((m) => m.waitMs));
console.log(
  JSON.stringify(
    {
      bench: 'vm-blackout',
      probeIntervalMs: 10,
      migrations: results.qemu.length,
      guestMemoryMiB: Number(values.memory),
      loadAverage: { ...load, after: loadavg().map(round) },
      qemu: {
        waitMs: qs,
        lostRunMs: summary(results.qemu.map((m) => m.lossMs)),
        qemuDowntimeMs: summary(qemuDowntime),
        qemuTotalMs: summary(qemuTotal),
        stepMediansMs: stepMedians(results.qemu),
        learnedVia: vias.qemu,
        steps: results.qemu.map((m) => m.steps),
      },
      namespace: {
        waitMs: ns,
        lostRunMs: summary(results.namespace.map((m) => m.lossMs)),
        stepMediansMs: stepMedians(results.namespace),
        learnedVia: vias.namespace,
        steps: results.namespace.map((m) => m.steps),
      },
      switchoverReport: early,
      ratioP50: +(qs.p50 / Math.max(1, ns.p50)).toFixed(2),
      target: { p95Ms: 50, metByWait: qs.p95 < 50, metByLostRun: quantile(results.qemu.map((m) => m.lossMs), 0.95) < 50 },
      note: 'TCG guests on a shared 2-core machine; wait = the longest a probe waited until the peer heard back (its answer or a later one); lostRun = longest run of unanswered probes × 10 ms',
    },
    null,
    2,
  ),
);
