import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { MigrationRecord } from '../api/contract.ts';

/**
 * The orchestrator's audit log as JSON lines: a record is appended when a decision starts and
 * again when it ends, so a controller that dies mid-migration leaves a "started" line behind.
 * On load, the last line per id wins, and a record that never finished is reported as failed
 * (interrupted), not as a migration that happened: where the VM is, the network will say.
 */
export interface AuditLog {
  load(): MigrationRecord[];
  /** a promise, when given, settles once the record is stored (rejects: not stored) */
  append(record: MigrationRecord): void | Promise<void>;
}

export function auditFile(path: string): AuditLog {
  return {
    load() {
      if (!existsSync(path)) return [];
      const byId = new Map<string, MigrationRecord>();
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const r = JSON.parse(line) as MigrationRecord;
          if (typeof r.id === 'string') byId.set(r.id, r);
        } catch {
          // a line cut by a crash: the lines before it still stand
        }
      }
      return [...byId.values()].map((r) =>
        r.finishedAt === null && (r.status === 'started' || r.status === 'planned')
          ? { ...r, status: 'failed' as const, error: { code: 'MIGRATION_TIMEOUT', message: 'the controller stopped during this migration; the VM is where the network sees it' } }
          : r,
      );
    },
    append(record) {
      appendFileSync(path, JSON.stringify(record) + '\n');
    },
  };
}
