/**
 * Agent registrations shared through the cluster store (`agents/<hypervisor>` = `{ url, at }`):
 * the leader records every hypervisor's registered agent URL (and forgets one that was
 * unregistered, e.g. its credential revoked); a member that becomes leader registers the recorded
 * agents before it reconciles or resumes anything, so it can call them at once instead of waiting
 * for each agent's next periodic registration (`score agent --check-ms`).
 *
 * Registrations arrive as API writes, which followers forward to the leader, so only the leader
 * sees them; it compares its agent list with what it wrote every `everyMs` (default 500 ms)
 * rather than hooking the API route. Writes are fenced like every store write.
 */
import type { Hypervisor } from '../api/contract.ts';
import type { OfLog } from '../openflow/connection/index.ts';
import type { Store } from '../store/store.ts';

export interface AgentDirectory {
  hypervisors(): readonly Pick<Hypervisor, 'name' | 'agent'>[];
  registerAgent(hypervisor: string, url: string): unknown;
}

const PREFIX = 'agents/';

export interface StoredAgent {
  readonly url: string;
  /** when the leader recorded it, ISO 8601 */
  readonly at: string;
}

/** The registrations to write and delete so the store matches `now` (pure). */
export function agentChanges(written: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>): { put: [string, string][]; del: string[] } {
  const put = [...now].filter(([h, url]) => written.get(h) !== url);
  const del = [...written.keys()].filter((h) => !now.has(h));
  return { put, del };
}

/**
 * Applies the stored registrations to `dir` (hypervisors it does not know are skipped with a warning).
 * @returns how many were registered
 */
export async function loadAgents(store: Store, dir: AgentDirectory, log: OfLog): Promise<number> {
  let n = 0;
  for (const e of await store.list(PREFIX)) {
    const hv = e.key.slice(PREFIX.length);
    const v = e.value as Partial<StoredAgent> | null;
    if (typeof v?.url !== 'string') {
      log('warn', `cluster: ${e.key} is not an agent registration; ignored`);
      continue;
    }
    try {
      dir.registerAgent(hv, v.url);
      n += 1;
    } catch (err) {
      log('warn', `cluster: stored agent of ${hv} not registered: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return n;
}

/**
 * Keeps `agents/` in step with the leader's registrations.
 * @returns stop
 */
export function shareAgents(o: { store: Store; dir: AgentDirectory; isLeader: () => boolean; log: OfLog; everyMs?: number }): () => void {
  const written = new Map<string, string>();
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !o.isLeader()) return;
    const now = new Map(o.dir.hypervisors().flatMap((h) => (h.agent === null ? [] : [[h.name, h.agent] as [string, string]])));
    const { put, del } = agentChanges(written, now);
    if (put.length === 0 && del.length === 0) return;
    busy = true;
    void (async () => {
      try {
        for (const [h, url] of put) {
          await o.store.put(`${PREFIX}${h}`, { url, at: new Date().toISOString() } satisfies StoredAgent);
          written.set(h, url);
        }
        for (const h of del) {
          await o.store.delete(`${PREFIX}${h}`);
          written.delete(h);
        }
      } catch (e) {
        o.log('warn', `cluster: agent registrations not stored: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        busy = false;
      }
    })();
  }, o.everyMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}
