/**
 * Keeps a running agent registered with its controller. Registering is idempotent (the controller
 * replaces the URL), so re-registering every `intervalMs` both checks the controller is there and
 * restores the registration after a controller restart. While the controller does not answer the
 * agent retries with exponential back-off (`initialMs` doubling up to `maxMs`) and says so once
 * per failure streak, with each retry's delay; when it answers again it says that too.
 *
 * Only for an agent that was registered once: at start-up an unreachable controller is an error
 * the command reports and exits on (`score agent`, exit 1). An answer no retry can change (the
 * agent's credential was revoked: `permanent`) ends the retries and goes to `onPermanent` once.
 */
export interface KeepRegisteredOptions {
  /** POST /agents/register; rejects when the controller cannot be reached */
  readonly register: () => Promise<unknown>;
  /** one line per state change or retry */
  readonly log: (line: string) => void;
  /** ms between checks while the controller answers (default 10 000) */
  readonly intervalMs?: number;
  /** first retry delay after a failure, ms (default 1000) */
  readonly initialMs?: number;
  /** longest retry delay, ms (default 30 000) */
  readonly maxMs?: number;
  /** whether a failure is final (no retry); default: none is */
  readonly permanent?: (e: unknown) => boolean;
  /** called once with the final failure; the agent stops checking afterwards */
  readonly onPermanent?: (e: unknown) => void;
}

export interface KeepRegistered {
  /** consecutive failed attempts now (0 while the controller answers) */
  failures(): number;
  stop(): void;
}

export function keepRegistered(o: KeepRegisteredOptions): KeepRegistered {
  const intervalMs = o.intervalMs ?? 10_000;
  const initialMs = o.initialMs ?? 1000;
  const maxMs = o.maxMs ?? 30_000;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => void attempt(), ms);
    // The agent's HTTP server keeps the process alive; this timer must not.
    timer.unref();
  };
  const attempt = async (): Promise<void> => {
    try {
      await o.register();
      if (stopped) return;
      if (failures > 0) o.log(`controller reachable again after ${failures} failed attempt(s); registered again`);
      failures = 0;
      schedule(intervalMs);
    } catch (e) {
      if (stopped) return;
      if (o.permanent?.(e) === true) {
        stopped = true;
        o.onPermanent?.(e);
        return;
      }
      failures++;
      const delay = Math.min(maxMs, initialMs * 2 ** (failures - 1));
      const why = e instanceof Error ? e.message : String(e);
      o.log(`${failures === 1 ? 'lost the controller' : 'controller still unreachable'} (${why}); retrying in ${(delay / 1000).toFixed(1)} s`);
      schedule(delay);
    }
  };
  schedule(intervalMs);
  return {
    failures: () => failures,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
