import type { Command } from 'commander';
import type { PolicyName } from '../../core/policies.ts';
import { simulate, type RunRecord } from '../../sim/run.ts';
import { runEmulatedExperiment, type MigrationLoss, type VmKind } from '../../system/emulated-experiment.ts';
import { qemuFiguresTable } from '../../vm/report.ts';
import { guestVms, startGuestTraffic, startScenarioGuests, vmKind } from '../../vm/emulate.ts';
import { fleetOf } from '../../vm/fleet.ts';
import { parsePolicies, printRuns } from './simulate.ts';
import { writeRunOutputs } from '../output.ts';
import { ScoreError } from '../../errors/errors.ts';
import { loadScenarioFile } from '../../scenario/load.ts';
import type { Model } from '../../scenario/model.ts';
import { buildDataCentre, type DataCentre, type DataCentrePlan } from '../../emulation/datacentre.ts';
import { requireRoot } from '../../emulation/exec.ts';
import { cleanLeftovers } from '../../emulation/ovs.ts';
import { startTraffic, type TrafficHandle, type TrafficOptions } from '../../emulation/traffic.ts';
import { entrySegments, startTimedTraffic } from '../../emulation/timed-traffic.ts';
import { parseNumberOption, parseTolerance } from './simulate.ts';
import { dashboardLine } from './demo.ts';
import { CONTINUOUS_KEYS } from '../continuous-options.ts';
import { addContinuousOptions, continuousRunStart, phasesIntro, phaseSummary, quietPeriodsOf, type ContinuousRunOptions, type ContinuousStart } from '../continuous-run.ts';

export interface EmulateOptions {
  readonly scenario: string;
  readonly controller: string;
  readonly traffic: boolean;
  readonly shape: boolean;
  /** Seconds to run; undefined: until SIGINT/SIGTERM. */
  readonly durationS?: number;
  /** VMs with traffic as QEMU guests (src/vm/emulate.ts); default the scenario's choice */
  readonly vms?: VmKind;
}

export interface RawEmulateOptions {
  scenario?: string;
  controller: string;
  traffic: boolean;
  shape: boolean;
  duration?: string;
  clean?: boolean;
  vms?: string;
}

/** `--vms`: namespace, qemu or absent. */
export function parseVms(v: string | undefined): VmKind | undefined {
  if (v === undefined || v === 'namespace' || v === 'qemu') return v;
  throw new ScoreError('CLI_USAGE', `--vms: expected namespace or qemu, got "${v}"`);
}

export function parseEmulateOptions(raw: RawEmulateOptions): EmulateOptions {
  if (raw.scenario === undefined) throw new ScoreError('CLI_USAGE', '--scenario is required (or --clean)');
  // What OVS accepts as an active controller connection; anything else it would ignore silently.
  if (!/^(tcp|ssl):[^:]+:\d{1,5}$|^unix:\/./.test(raw.controller)) {
    throw new ScoreError('CLI_USAGE', `--controller: expected tcp:HOST:PORT, ssl:HOST:PORT or unix:/PATH, got "${raw.controller}"`);
  }
  const durationS = parseNumberOption('--duration', raw.duration, 0.001);
  const vms = parseVms(raw.vms);
  return { scenario: raw.scenario, controller: raw.controller, traffic: raw.traffic, shape: raw.shape, ...(durationS === undefined ? {} : { durationS }), ...(vms === undefined ? {} : { vms }) };
}

/** Options `--clean` would ignore, camelCase (those with a default cannot be told from it and are left out). */
const NOT_WITH_CLEAN = ['scenario', 'duration', 'vms', 'policy', 'tolerance', 'swaps', 'lookahead', 'overcommit', ...CONTINUOUS_KEYS] as const;

/**
 * Refuses an option `--clean` would ignore (it removes what crashed runs left behind and exits),
 * e.g. `--clean --every 5s`, before the root check, as refuseStray refuses continuous options
 * without the one they go with. Errors: CLI_USAGE.
 */
export function refuseWithClean(raw: Partial<Record<(typeof NOT_WITH_CLEAN)[number], unknown>>): void {
  const k = NOT_WITH_CLEAN.find((key) => raw[key] !== undefined);
  if (k !== undefined) throw new ScoreError('CLI_USAGE', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not go with --clean (it only removes what crashed runs left behind, then exits)`);
}

/** What `score emulate` prints once the data centre stands. Pure. */
export function describeDataCentre(
  model: Model,
  plan: DataCentrePlan,
  run: { readonly netns: string; readonly runDir: string; readonly dbSocket: string; readonly controller: string; readonly shaped: boolean },
  /** VMs that run as QEMU guests: they have no namespace to `ip netns exec` into. */
  guests: ReadonlySet<string> = new Set(),
): string[] {
  const lines: string[] = [];
  const w = Math.max(...plan.bridges.map((b) => b.node.length), 4);
  lines.push(`Bridges (Open vSwitch, userspace datapath, in namespace ${run.netns}; controller ${run.controller}):`);
  for (const b of plan.bridges) {
    const ports = plan.links.flatMap((l) => (l.a.node === b.node ? [`${l.a.port}->${l.b.node}`] : l.b.node === b.node ? [`${l.b.port}->${l.a.node}`] : []));
    lines.push(`  ${b.node.padEnd(w)}  ${b.name.padEnd(15)}  dpid ${b.dpid}  ${b.kind.padEnd(10)}  ports ${ports.join(' ')}`);
  }
  lines.push(`Links: ${plan.links.length}, ${run.shaped ? 'shaped to their capacity with tc (both directions)' : 'not shaped (--no-shape)'}`);
  const vw = Math.max(...plan.vms.map((v) => v.name.length), 2);
  lines.push(`VMs (${guests.size > 0 ? 'namespace or QEMU guest' : 'namespace'}, eth0 address and MAC, hypervisor port):`);
  for (const v of plan.vms) {
    const where = guests.has(v.name) ? 'qemu guest' : v.namespace;
    lines.push(`  ${v.name.padEnd(vw)}  ${where.padEnd(15)}  ${v.ip.padEnd(15)}  ${v.mac}  ${v.hypervisor} port ${v.port.port}`);
  }
  const first = model.scenario.traffic[0];
  const [pairSrc, dst] = first !== undefined ? [first.src, first.dst] : [plan.vms[0]?.name, plan.vms[1]?.name];
  // a guest has no namespace: ping it from the first VM that is one
  const src = pairSrc !== undefined && guests.has(pairSrc) ? plan.vms.find((v) => !guests.has(v.name) && v.name !== dst)?.name : pairSrc;
  const srcNs = plan.vms.find((v) => v.name === src)?.namespace;
  const dstIp = plan.vms.find((v) => v.name === dst)?.ip;
  if (srcNs !== undefined && dstIp !== undefined) {
    lines.push(`Try (forwarding needs the controller's flows: the switches are fail-mode secure):`);
    lines.push(`  ip netns exec ${srcNs} ping -c 3 ${dstIp}`);
  }
  const someBridge = plan.bridges[0]?.name ?? '';
  lines.push(`  ovs-vsctl --db=unix:${run.dbSocket} show`);
  lines.push(`  ovs-ofctl -O OpenFlow13 dump-flows unix:${run.runDir}/${someBridge}.mgmt`);
  return lines;
}

export interface EmulateIo {
  readonly out: (s: string) => void;
  /** Resolves when the run should end early (e.g. a signal). */
  readonly interrupted: Promise<void>;
}

/**
 * Builds, starts the traffic, waits for the duration or an interruption, tears down. Reusable by
 * commands that add a controller or an experiment on top: `during` runs once everything stands.
 */
export async function runEmulation(
  opts: EmulateOptions,
  io: EmulateIo,
  during?: (dc: DataCentre, traffic: TrafficHandle | undefined) => Promise<void>,
): Promise<void> {
  const { file, model } = loadScenarioFile(opts.scenario);
  requireRoot('score emulate');
  let interrupted = false;
  void io.interrupted.then(() => (interrupted = true));
  io.out(`S-CORE emulate: scenario "${model.scenario.name}" (${file}) as Open vSwitch bridges and network namespaces`);
  let dc: DataCentre | undefined;
  try {
    dc = await buildDataCentre(model, { controller: opts.controller, shape: opts.shape });
    io.out(`Built ${dc.plan.bridges.length} bridges, ${dc.plan.links.length} links, ${dc.plan.vms.length} VMs in ${dc.timings.total} ms (run prefix ${dc.prefix})`);
    const guestNames = new Set(vmKind(model, opts.vms) === 'qemu' ? guestVms(model) : []);
    for (const l of describeDataCentre(model, dc.plan, { netns: dc.ovs.netns, runDir: dc.ovs.paths.runDir, dbSocket: dc.ovs.paths.dbSocket, controller: opts.controller, shaped: dc.shaped }, guestNames)) io.out(l);
    // real guests make their flows themselves: no generators in namespaces for them
    const guests = vmKind(model, opts.vms) === 'qemu' && !interrupted ? await startScenarioGuests(dc, model, { out: io.out }) : [];
    // the guests' schedules (every phase) and the common start, over their control channels
    const guestTraffic = guests.length > 0 && !interrupted ? await startGuestTraffic(fleetOf(dc), model, guests, { onSegment: (i, at) => io.out(`traffic: guests switch to phase ${i + 1} at ${(at / 1000).toFixed(1)} s (by their own clocks): ${model.timeline.segments[i]!.flows.map((f) => `${f.src}->${f.dst}`).join(', ')}`) }) : undefined;
    if (guestTraffic !== undefined) {
      dc.onStop(() => Promise.resolve(guestTraffic.stop()));
      io.out(`Traffic: made inside the ${guests.length} guests, ${model.timeline.segments.length} phase(s) from a common start: ${model.timeline.segments[0]!.flows.map((f) => `${f.src}->${f.dst}`).join(', ')}`);
    }
    let traffic: TrafficHandle | undefined;
    if (opts.traffic && !interrupted && guests.length === 0) {
      const onExit: TrafficOptions['onExit'] = (g, e) => io.out(`traffic: ${g.spec.tool} for ${g.flow} (${g.spec.role}) exited (${e.code ?? e.signal ?? '?'}); restarting${e.stderr === '' ? '' : `: ${e.stderr.split('\n').pop() ?? ''}`}`);
      // traffic that changes in time (phases, trace) follows the scenario's timeline
      traffic =
        model.timeline.segments.length > 1
          ? await startTimedTraffic(dc, { onExit, onSegment: (i, at) => io.out(`traffic: phase ${i + 1} from ${(at / 1000).toFixed(1)} s: ${entrySegments(model)[i]!.entries.map((x) => `${x.src}->${x.dst}`).join(', ')}`), onError: (e) => io.out(`traffic: changing phase failed: ${String(e)}`) })
          : await startTraffic(dc, { onExit });
      io.out(`Traffic: ${traffic.flows.map((f) => `${f.flow} (${f.generator}/${f.protocol})`).join(', ')}`);
    }
    if (!interrupted) {
      const stopWhen = [io.interrupted];
      if (opts.durationS !== undefined) stopWhen.push(new Promise((r) => setTimeout(r, opts.durationS! * 1000).unref()));
      io.out(opts.durationS === undefined ? 'Running; Ctrl-C stops and removes everything.' : `Running for ${opts.durationS} s; Ctrl-C stops early.`);
      // Nothing else may hold the event loop (no traffic, a relay that is unref'd): keep it alive.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      try {
        await Promise.race([during === undefined ? new Promise<void>(() => undefined) : during(dc, traffic), Promise.race(stopWhen)]);
      } finally {
        clearInterval(keepAlive);
      }
    }
  } catch (e) {
    // A signal during the build races ovs.ts's own cleanup; its errors are not the user's news.
    if (!interrupted) throw e;
  } finally {
    if (dc !== undefined) {
      const t0 = performance.now();
      await dc.stop();
      io.out(`Removed everything in ${Math.round(performance.now() - t0)} ms.`);
    }
  }
  if (interrupted) io.out('Interrupted.');
}

export function registerEmulate(program: Command): void {
  const emulate = program
    .command('emulate')
    .description('build a scenario as real Open vSwitch bridges and network namespaces (root), connect it to a controller and run its traffic')
    .option('-s, --scenario <file|name>', 'scenario file (YAML/JSON) or built-in name, e.g. paper')
    .option('-c, --controller <target>', 'OpenFlow 1.3 controller the switches connect to', 'tcp:127.0.0.1:6653')
    .option('--no-traffic', 'do not start the traffic generators')
    .option('--no-shape', 'do not shape links to their capacity')
    .option('-d, --duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)')
    .option('--clean', 'remove what crashed runs left behind (namespaces, links, daemons, run dirs) and exit')
    .option('-p, --policy <list>', "run the paper's experiment: in-process controller, API and agents orchestrate live migrations (rr, la, gain or both = rr,la; a comma list; ignores --controller)")
    .option('-o, --out <dir>', 'with --policy: output directory', 'score-out/emulate')
    .option('--tolerance <fraction>', 'with --policy: measured rates this close count as equal (default 0.15; 0.2 with QEMU guests)')
    .option('--swaps', 'with --policy: agents may propose exchanges with a VM on a full hypervisor, carried out one migration at a time')
    .option('--lookahead', 'with --policy gain: the controller plans with the look-ahead (moves, exchanges, ejections, pair moves) and carries each action out one migration at a time')
    .option('--overcommit <0|1>', 'with --swaps or --lookahead: temporary extra VMs per hypervisor during an exchange (default 0: through a free slot elsewhere)')
    .option('--vms <namespace|qemu>', "VMs with traffic as real QEMU guests that make their flows themselves and live-migrate through QMP (qemu), or as namespaces; default the scenario's emulation.vms, else namespace");
  addContinuousOptions(emulate, 'with --policy: ')
    .action(async (raw: RawEmulateOptions & { policy?: string; out: string; tolerance?: string; swaps?: boolean; lookahead?: boolean; overcommit?: string } & ContinuousRunOptions) => {
      if (raw.clean === true) {
        refuseWithClean(raw);
        requireRoot('score emulate --clean');
        const r = await cleanLeftovers();
        console.log(
          `Removed ${r.runDirs.length} run dir(s), ${r.processes.length} process(es), ${r.namespaces.length} namespace(s), ${r.links.length} link(s)` +
            (r.liveRuns.length === 0 ? '.' : `; left ${r.liveRuns.length} live run(s) alone: ${r.liveRuns.join(', ')}.`),
        );
        return;
      }
      // it only bounds how an exchange is carried out: without one it would be ignored silently (checked before the root check)
      if (raw.overcommit !== undefined && raw.swaps !== true && raw.lookahead !== true) throw new ScoreError('CLI_USAGE', '--overcommit goes with --swaps or --lookahead (it bounds how an exchange is carried out)');
      if (raw.policy !== undefined) {
        requireRoot('score emulate --policy');
        if (raw.scenario === undefined) throw new ScoreError('CLI_USAGE', '--scenario is required');
        const tolerance = parseTolerance(raw.tolerance);
        const overcommit = Number(raw.overcommit ?? '0');
        if (overcommit !== 0 && overcommit !== 1) throw new ScoreError('CLI_USAGE', `--overcommit: expected 0 or 1, got "${raw.overcommit}"`);
        const vms = parseVms(raw.vms);
        const policies = parsePolicies(raw.policy);
        if (raw.lookahead === true && (raw.swaps === true || policies.some((p) => p !== 'gain-order'))) throw new ScoreError('CLI_USAGE', '--lookahead goes with --policy gain alone (it plans exchanges itself: no --swaps)');
        const continuous = policies.map((p) => continuousRunStart(p, raw));
        if (continuous[0] !== null && (raw.swaps === true || raw.lookahead === true)) throw new ScoreError('CLI_USAGE', '--every runs continuous orchestration, which takes no --swaps or --lookahead');
        // As plain `score emulate` below: listening until the teardown ends keeps ovs.ts from
        // re-raising the signal before the experiment removed its agents, traffic and bridges.
        const stop = new AbortController();
        let signalled: NodeJS.Signals | undefined;
        const onSignal = (sig: NodeJS.Signals): void => {
          signalled ??= sig;
          stop.abort(new Error(`interrupted by ${sig}`));
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          await runEmulatedPolicies({ scenario: raw.scenario, policies, out: raw.out, tolerance, shape: raw.shape, swaps: raw.swaps === true, lookahead: raw.lookahead === true, overcommit, ...(vms !== undefined ? { vms } : {}), continuous, signal: stop.signal });
        } catch (e) {
          // the experiment removed everything before rejecting with the signal's reason
          if (!stop.signal.aborted || e !== stop.signal.reason) throw e;
          console.log('Interrupted; removed everything.');
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (signalled !== undefined) process.exitCode = signalled === 'SIGINT' ? 130 : 143;
        return;
      }
      const opts = parseEmulateOptions(raw);
      // continuous orchestration is the experiment's (--policy); a data centre for another controller has none
      if (continuousRunStart('load-aware', raw) !== null) throw new ScoreError('CLI_USAGE', '--every goes with --policy (for your own controller: score controller --orchestrate la --every 5s)');
      let signalled: NodeJS.Signals | undefined;
      let interrupt: () => void = () => undefined;
      const interrupted = new Promise<void>((r) => (interrupt = r));
      // Listening (not once) until teardown ends also keeps ovs.ts from re-raising the signal
      // and killing the process half way through the orderly stop.
      const onSignal = (sig: NodeJS.Signals): void => {
        signalled ??= sig;
        interrupt();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runEmulation(opts, { out: (s) => console.log(s), interrupted });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (signalled !== undefined) process.exitCode = signalled === 'SIGINT' ? 130 : 143;
    });
}

/** `score emulate --policy`: the paper's experiment on Open vSwitch, reported like `score demo`. */
async function runEmulatedPolicies(o: {
  scenario: string;
  policies: PolicyName[];
  out: string;
  tolerance: number | undefined;
  shape: boolean;
  swaps?: boolean;
  lookahead?: boolean;
  overcommit?: number;
  vms?: VmKind;
  /** per policy, its continuous start body (--every), or null */
  continuous: readonly (ContinuousStart | null)[];
  signal?: AbortSignal;
}): Promise<void> {
  const started = performance.now();
  const { file, model } = loadScenarioFile(o.scenario);
  console.log(`S-CORE emulate: scenario "${model.scenario.name}" on real Open vSwitch bridges (userspace datapath) and network namespaces`);
  const intro = phasesIntro(model, o.continuous[0] ?? null, ', until it settles after the last (at most 10 minutes after it began)');
  if (intro !== null) console.log(intro);
  const runs: RunRecord[] = [];
  const losses: { policy: PolicyName; losses: readonly MigrationLoss[] }[] = [];
  const phaseLines: string[] = [];
  for (const [i, policy] of o.policies.entries()) {
    const start = o.continuous[i] ?? null;
    const r = await runEmulatedExperiment({
      ...(start !== null ? { continuous: { start, quietPeriods: quietPeriodsOf(start) } } : {}),
      model,
      file,
      policy,
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      ...(o.tolerance !== undefined ? { rateTolerance: o.tolerance } : {}),
      shape: o.shape,
      ...(o.swaps === true ? { swaps: true, overcommit: o.overcommit ?? 0 } : {}),
      ...(o.lookahead === true ? { lookahead: true, overcommit: o.overcommit ?? 0 } : {}),
      ...(o.vms !== undefined ? { vms: o.vms } : {}),
      out: (s) => console.log(s),
      onReady: (stack, dc) => {
        console.log(`  ${policy}: run prefix ${dc.prefix}, controller API at ${stack.apiUrl}/api/v1 (operator token ${stack.tokens.operator}), ${model.scenario.hypervisors.length} agents over HTTP`);
        console.log(dashboardLine(`${policy}: `, stack));
      },
    });
    runs.push(r.record);
    losses.push({ policy, losses: r.losses });
    if (start !== null) {
      phaseLines.push(`${policy}: ${phaseSummary(model, r.record).join('; ')}; cost at the end ${+r.record.finalCost.toFixed(2)}${r.stoppedBy === 'time' ? ' (stopped at its time limit, 10 minutes after the last phase began, before it settled)' : ''}`);
    }
    for (const x of r.exchanges) console.log(`  ${policy}: audit ${x.id} (${x.status}): ${x.reason}`);
  }
  printRuns(model, runs, { out: (s) => console.log(s) });
  console.log('\n== Connectivity during each migration (peers ping the moving VM every 10 ms):');
  for (const { policy, losses: l } of losses) {
    for (const x of l) console.log(`  ${policy}: ${x.vm} -> ${x.to}: ${x.sent === 0 ? "no peer to probe it (it has no traffic)" : `${x.sent - x.received} of ${x.sent} probes lost, longest gap ${x.blackoutMs} ms`}`);
  }
  if (o.swaps === true) {
    // the scenario planner moves one VM at a time; the exchanges are in the audit log
    for (const r of runs) console.log(`Exchanges (${r.policy}): ${r.migrations} migrations to cost ${+r.finalCost.toFixed(2)}; the pair decisions are in the audit log (records with decision.swap).`);
  }
  if (o.lookahead === true) {
    for (const r of runs) console.log(`Look-ahead (${r.policy}): ${r.migrations} migrations to cost ${+r.finalCost.toFixed(2)}; each action's decision is in the audit log (one record per migration, "[migration i of n]").`);
  }
  if (vmKind(model, o.vms) === 'qemu') for (const line of qemuFiguresTable(losses)) console.log(line);
  if (phaseLines.length > 0) console.log(['', ...phaseLines].join('\n'));
  for (const r of o.swaps === true || o.lookahead === true || phaseLines.length > 0 ? [] : runs) {
    const m = simulate(model, { policy: r.policy, file });
    const same = r.steps.length === m.steps.length && r.steps.every((s, i) => s.vm === m.steps[i]?.vm && s.to === m.steps[i]?.to);
    console.log(`Cross-check ${r.policy}: ${r.migrations} migrations to cost ${+r.finalCost.toFixed(2)}; step table ${same ? 'identical to' : 'DIFFERENT FROM'} the simulated run's.`);
  }
  const written = await writeRunOutputs(o.out, runs, true);
  console.log(`Wrote ${written.join(', ')}`);
  console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
