/**
 * Rate limit for the controller's "host added" log lines. A burst of new MACs (a rack booting,
 * a scan, cbench) would otherwise print one line per packet-in, and printing was the controller's
 * biggest cost after the view rebuilds. Up to `perWindow` such lines per window are printed as
 * before; the rest are counted and said in one summary line once their window is over. A port
 * over its host limit says so once a minute (the `quiet` refusals between are not printed). Every
 * other event (moves, removals, links, warnings) is always printed; `--verbose` prints them all.
 */
import type { ControllerEvent } from '../../controller/controller.ts';

export interface HostLineLimiter {
  /**
   * The lines to print for this event, whose own line is `text` (`now`: ms): none when held back,
   * a summary first when a window with held lines just ended. `text` may be a function, called
   * only when the line is printed: a burst of new hosts then builds no line it holds back.
   */
  lines(e: ControllerEvent, text: string | (() => string), now: number): string[];
  /** The summary of lines held back in a window that is over at `now` (ms), or null; for a timer, so a quiet controller still says it. */
  flush(now: number): string | null;
}

/** not a closure per call: that costs more than the rest of a held-back line's handling */
function lineOf(text: string | (() => string)): string {
  return typeof text === 'string' ? text : text();
}

export function hostLineLimiter(perWindow = 20, windowMs = 1000): HostLineLimiter {
  let windowStart = Number.NEGATIVE_INFINITY;
  let printed = 0;
  let held = 0;
  const flush = (now: number): string | null => {
    if (held === 0 || now - windowStart < windowMs) return null;
    const text = `${held} more hosts learned (lines not shown: more than ${perWindow} in ${windowMs} ms; --verbose shows all)`;
    held = 0;
    return text;
  };
  return {
    lines(e, text, now) {
      // a port over its host limit is reported once a minute (hosts.ts); the refusals between are counted there
      if (e.type === 'host-refused' && e.quiet) return [];
      if (e.type !== 'host-added') return [lineOf(text)];
      const out: string[] = [];
      if (now - windowStart >= windowMs) {
        const summary = flush(now);
        if (summary !== null) out.push(summary);
        windowStart = now;
        printed = 0;
      }
      if (printed >= perWindow) {
        held += 1;
        return out;
      }
      printed += 1;
      out.push(lineOf(text));
      return out;
    },
    flush,
  };
}
