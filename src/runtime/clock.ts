/**
 * Time for the imperative shell. The real clock wraps Date.now and timers; the virtual clock is
 * advanced by the simulated data plane, so a simulated run of minutes takes milliseconds and is
 * the same every time.
 */
export interface Clock {
  now(): number;
  every(ms: number, fn: () => void): () => void;
  /**
   * Resolves after `ms` of this clock's time, or at once when `signal` aborts (resolves, does not
   * reject; the timer is cleared, so a cut sleep holds no process open).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      const done = (): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

interface Timer {
  due: number;
  readonly period: number;
  readonly fn: () => void;
  readonly id: number;
  readonly once: boolean;
}

export interface VirtualClock extends Clock {
  /** runs every timer due up to now + ms, in time order, then sets now to now + ms */
  advance(ms: number): Promise<void>;
}

export function virtualClock(start = 0): VirtualClock {
  let now = start;
  let nextId = 0;
  let timers: Timer[] = [];
  const add = (t: Omit<Timer, 'id'>): number => {
    const id = nextId++;
    timers.push({ ...t, id });
    return id;
  };
  return {
    now: () => now,
    every(ms, fn) {
      const id = add({ due: now + ms, period: ms, fn, once: false });
      return () => {
        timers = timers.filter((t) => t.id !== id);
      };
    },
    sleep(ms, signal) {
      return new Promise((resolve) => {
        if (signal?.aborted === true) return resolve();
        const done = (): void => {
          timers = timers.filter((t) => t.id !== id);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const id = add({ due: now + ms, period: 0, fn: done, once: true });
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
        if (next === undefined) break;
        now = next.due;
        if (next.once) timers = timers.filter((t) => t.id !== next.id);
        else next.due += next.period;
        next.fn();
        // let the work a timer started (promises) run before the next one fires
        await new Promise((r) => setImmediate(r));
      }
      now = end;
    },
  };
}
