import type { Dpid, SwitchCommand } from '../controller/commands.ts';
import * as ctl from '../controller/controller.ts';
import type { Controller, ControllerEvent, ControllerOptions } from '../controller/controller.ts';
import type { Clock } from './clock.ts';
import { isScoreError } from '../errors/errors.ts';
import type { DataPlane, SwitchChannel } from './dataplane.ts';

/** the least time between two parts of a statistics round, ms (RuntimeOptions.pollShares) */
const POLL_PART_MIN_MS = 5;

/**
 * The controller's imperative shell: it feeds data-plane events into the pure controller,
 * delivers the commands it returns, polls statistics (flow stats from edge switches only, port
 * stats from all) and sends LLDP probes on its clock, and tells subscribers what happened.
 */
export interface RuntimeOptions {
  readonly controller: ControllerOptions;
  readonly dataPlane: DataPlane;
  readonly clock: Clock;
  /** flow/port statistics period (default 1 s) */
  readonly pollMs?: number;
  /** LLDP probe period (default 1 s) */
  readonly probeMs?: number;
  /**
   * the probes of a period are sent in this many parts, spread evenly over it (controller.ts
   * `tick` with a share; default 1: every switch at once). Each switch is still probed once a
   * period; with hundreds of switches a part holds the event loop a tenth as long.
   */
  readonly probeShares?: number;
  /**
   * a statistics round asks its switches in this many parts (every `i % pollShares`-th switch
   * together), the parts spread evenly over the first half of the poll period (default 1: all at
   * once). The requests and replies of 256 switches at once held the event loop ~15-20 ms each
   * second, every packet-in behind them (docs/cluster.md, light-load tail); in parts each holds it
   * a fraction of that. Each switch is still asked once a round, a round ends when its last part
   * is answered (so it lasts at least half the period) and rounds still never overlap.
   */
  readonly pollShares?: number;
  readonly onEvent?: (e: ControllerEvent, c: Controller) => void;
  readonly onError?: (message: string, err: unknown) => void;
  /** after each statistics round */
  readonly onPoll?: (c: Controller) => void;
}

export interface PollStats {
  polls: number;
  /** duration of the last full poll round, ms on the runtime's clock */
  lastPollMs: number;
  failures: number;
}

export interface Runtime {
  readonly controller: Controller;
  readonly channels: Map<Dpid, SwitchChannel>;
  readonly stats: PollStats;
  /** one statistics round now (also what the timer runs) */
  poll(): Promise<void>;
  /** apply an out-of-band controller result (e.g. the agent's "VM moved") */
  apply(result: ctl.Result): void;
  stop(): Promise<void>;
}

export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  const controller = ctl.createController(o.controller);
  const channels = new Map<Dpid, SwitchChannel>();
  const stats: PollStats = { polls: 0, lastPollMs: 0, failures: 0 };
  const onError = o.onError ?? (() => undefined);

  const sendTo = (dpid: Dpid, list: readonly SwitchCommand[]): void => {
    const ch = channels.get(dpid);
    if (ch === undefined) return; // switch gone: its rules went with it
    try {
      ch.send(list);
    } catch (e) {
      onError(`sending to ${dpid.toString(16)} failed`, e);
    }
  };
  const deliver = (commands: readonly SwitchCommand[]): void => {
    if (commands.length === 0) return;
    // a packet-in's answer usually goes to one switch: no grouping then
    const first = commands[0] as SwitchCommand;
    if (commands.every((c) => c.dpid === first.dpid)) return sendTo(first.dpid, commands);
    const bySwitch = new Map<Dpid, SwitchCommand[]>();
    for (const c of commands) {
      const list = bySwitch.get(c.dpid);
      if (list === undefined) bySwitch.set(c.dpid, [c]);
      else list.push(c);
    }
    for (const [dpid, list] of bySwitch) sendTo(dpid, list);
  };
  const apply = (r: ctl.Result): void => {
    deliver(r.commands);
    for (const e of r.events) o.onEvent?.(e, controller);
  };

  await o.dataPlane.start({
    switchUp(ch) {
      channels.set(ch.dpid, ch);
      apply(ctl.switchUp(controller, ch.dpid, ch.ports, o.clock.now()));
    },
    switchDown(dpid) {
      channels.delete(dpid);
      apply(ctl.switchDown(controller, dpid, o.clock.now()));
    },
    packetIn(dpid, inPort, frame) {
      apply(ctl.packetIn(controller, dpid, inPort, frame, o.clock.now()));
    },
    portStatus(dpid, port, reason) {
      apply(ctl.portStatus(controller, dpid, port, reason === 'delete', o.clock.now()));
    },
    flowRemoved(_dpid, cookie) {
      apply(ctl.flowRemoved(controller, cookie));
    },
    flowRejected(dpid, cookie, error) {
      apply(ctl.flowRejected(controller, dpid, cookie, error, o.clock.now()));
    },
    flowsAccepted(dpid, cookies) {
      apply(ctl.flowsAccepted(controller, dpid, cookies, o.clock.now()));
    },
  });

  let polling = false;
  let stopped = false;
  const pollShares = Math.max(1, Math.floor(o.pollShares ?? 1));
  const poll = async (): Promise<void> => {
    if (polling) return; // a slow switch must not pile rounds up
    polling = true;
    const t0 = o.clock.now();
    try {
      const edges = new Set(ctl.edgeSwitches(controller));
      const ask = async (ch: SwitchChannel): Promise<void> => {
        try {
          if (edges.has(ch.dpid)) ctl.flowStats(controller, ch.dpid, await ch.flowStats(), o.clock.now());
          ctl.portStats(controller, ch.dpid, await ch.portStats(), o.clock.now());
        } catch (e) {
          // A switch that went away while we asked is not a statistics failure: its switch-down
          // event says what happened (an operator's del-controller races the poll).
          if (isScoreError(e, 'OF_DISCONNECTED')) return;
          stats.failures += 1;
          onError(`statistics from ${ch.dpid.toString(16)} failed`, e);
        }
      };
      // In parts on a fixed schedule, not "32 switches a turn with the event loop free in between"
      // (tried on 6 December: under load a round of 320 switches then took the whole second,
      // bench/leader-polling); the default is all at once.
      const all = [...channels.values()];
      const spreadMs = (o.pollMs ?? 1000) / 2;
      // no part closer than POLL_PART_MIN_MS to the next: a short period gets fewer parts (timers
      // under a millisecond would make the round outlast the period)
      const parts = Math.max(1, Math.min(pollShares, all.length, Math.floor(spreadMs / POLL_PART_MIN_MS)));
      const asked: Promise<void>[] = [];
      for (let k = 0; k < parts; k++) {
        // part k is due at t0 + k·step on the clock, not a step after part k-1 ran: a late event
        // loop sends the overdue parts at once instead of stretching the round
        if (k > 0) await o.clock.sleep(Math.max(0, t0 + (k * spreadMs) / parts - o.clock.now()));
        if (stopped) return;
        // a switch gone meanwhile is not asked (its channel would refuse)
        for (let i = k; i < all.length; i += parts) if (channels.get((all[i] as SwitchChannel).dpid) === all[i]) asked.push(ask(all[i] as SwitchChannel));
      }
      await Promise.all(asked);
      if (stopped) return;
      stats.polls += 1;
      stats.lastPollMs = o.clock.now() - t0;
      o.onPoll?.(controller);
    } finally {
      polling = false;
    }
  };

  const stopPoll = o.clock.every(o.pollMs ?? 1000, () => void poll());
  const shares = Math.max(1, Math.floor(o.probeShares ?? 1));
  const probeMs = o.probeMs ?? 1000;
  const stepMs = probeMs / shares;
  const probeStart = o.clock.now();
  /** share ticks sent so far; share k is due at probeStart + (k + 1)·stepMs */
  let sentShares = 0;
  const stopProbe =
    shares === 1
      ? o.clock.every(probeMs, () => apply(ctl.tick(controller, o.clock.now())))
      : o.clock.every(stepMs, () => {
          // Shares follow the clock, not the timer's count: a timer fires at most once per event-loop
          // turn, so with a loop late by more than a step counting callbacks would stretch a probe
          // cycle (100 parts, 60 ms turns: 6 s, past a link's TTL) and expire healthy links. The
          // overdue shares go at once, at most one whole cycle.
          const due = Math.floor((o.clock.now() - probeStart) / stepMs + 1e-9);
          sentShares = Math.max(sentShares, due - shares);
          for (; sentShares < due; sentShares++) apply(ctl.tick(controller, o.clock.now(), { index: sentShares % shares, of: shares, periodMs: probeMs }));
        });

  return {
    controller,
    channels,
    stats,
    poll,
    apply,
    async stop() {
      // a round sleeping between its parts must neither ask nor report after this
      stopped = true;
      stopPoll();
      stopProbe();
      await o.dataPlane.stop();
    },
  };
}
