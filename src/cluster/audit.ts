/**
 * The orchestrator's audit log (migration records) in the cluster store instead of a file:
 * `migrations/g<generation>-<id>`, one key per record, rewritten when the record changes (started,
 * then finished). Record ids restart with every controller process (`m1`, `m2`, ...), so the key
 * carries the writing leader's generation, and records of earlier leaders are loaded with that
 * prefix in their id: no two records share an id, none overwrites another.
 *
 * Loaded at controller start (src/cli/commands/controller.ts), with the file log's rule: a record
 * that never finished is reported failed ("the controller stopped during this migration"), never
 * as a migration that happened. Writes are fenced (only the leader's land); a refused or failed
 * write is logged, the orchestrator is not stopped by it.
 *
 * Limit: a standby loads the records when it starts; records the leader writes later are in etcd
 * but reach a standby's history only when it restarts (docs/cluster.md).
 */
import type { MigrationRecord } from '../api/contract.ts';
import type { OfLog } from '../openflow/connection/index.ts';
import type { AuditLog } from '../service/audit-file.ts';
import type { ClusterHandle } from './attach.ts';
import { ScoreError } from '../errors/errors.ts';

const INTERRUPTED = { code: 'MIGRATION_TIMEOUT', message: 'the controller stopped during this migration; the VM is where the network sees it' };

/** A record id that already names its leader's generation (`g<generation>-m<n>`, cluster mode). */
const GLOBAL_ID = /^g\d+-/;

/** Every record in the store, as written (unfinished ones included), with ids unique across leaders. */
export async function storedRecords(store: ClusterHandle['store']): Promise<MigrationRecord[]> {
  const entries = await store.list('migrations/');
  return entries.map((e) => {
    const r = e.value as MigrationRecord;
    // the key is `migrations/<id>`; records of older versions had ids without the generation
    return { ...r, id: e.key.slice('migrations/'.length) };
  });
}

/** The record's key: its id when that names the generation, else prefixed with the writer's. */
export function recordKey(id: string, generation: bigint): string {
  return GLOBAL_ID.test(id) ? `migrations/${id}` : `migrations/g${generation}-${id}`;
}

export async function clusterAuditLog(h: Pick<ClusterHandle, 'store' | 'member'>, log: OfLog): Promise<AuditLog> {
  const records = await storedRecords(h.store);
  // Writes go one after another: a record is written when it starts and again when it ends, and two
  // concurrent puts may land in either order, which would leave a finished migration "started".
  let chain: Promise<void> = Promise.resolve();
  return {
    load: () =>
      records.map((r) =>
        r.finishedAt === null && (r.status === 'started' || r.status === 'planned') ? { ...r, status: 'failed' as const, error: INTERRUPTED } : r,
      ),
    append(record) {
      const gen = h.member.generation;
      if (gen === undefined) {
        log('warn', `cluster: migration record ${record.id} not stored: this controller is not the leader`);
        const refused = Promise.reject(new ScoreError('CLUSTER_NOT_LEADER', `migration record ${record.id} not stored: this controller is not the leader`));
        refused.catch(() => undefined); // said above; a caller that does not wait must not crash the process
        return refused;
      }
      const key = recordKey(record.id, gen);
      const value = structuredClone(record);
      const put = chain.then(() => h.store.put(key, value));
      chain = put.catch((e: unknown) => log('warn', `cluster: migration record ${record.id} not stored: ${e instanceof Error ? e.message : String(e)}`));
      return put;
    },
  };
}
