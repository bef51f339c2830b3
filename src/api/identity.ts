import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Host, MigrationRecord } from './contract.ts';
import type { Principal } from './auth.ts';
import { ScoreError, type ErrorCode } from '../errors/errors.ts';

/**
 * The controller's own credential for calling agents. The controller keeps a secret key; the
 * token it presents to hypervisor H is HMAC-SHA256(key, H), and H's agent only holds the SHA-256
 * of that token (it learns it when it registers, as H). So an agent can check the controller
 * without holding anything that works elsewhere: the token it sees on the wire opens no other
 * agent, and no agent credential opens any agent.
 */
export interface ControllerCredential {
  /** the bearer token the controller sends to this hypervisor's agent */
  tokenFor(hypervisor: string): string;
  /** what that agent compares against: SHA-256 of tokenFor(hypervisor), hex */
  verifierFor(hypervisor: string): string;
}

export function controllerCredential(key: Uint8Array = randomBytes(32)): ControllerCredential {
  const secret = Buffer.from(key);
  if (secret.length < 16) throw new ScoreError('CLI_USAGE', 'the controller key must have at least 16 bytes');
  const tokenFor = (hypervisor: string): string => createHmac('sha256', secret).update(`s-core agent call\0${hypervisor}`, 'utf8').digest('base64url');
  return { tokenFor, verifierFor: (hypervisor) => createHash('sha256').update(tokenFor(hypervisor), 'utf8').digest('hex') };
}

/** One refused request, as the audit log keeps it. */
export interface Refusal {
  readonly kind: 'refusal';
  /** ms since epoch */
  readonly at: number;
  /** the principal's name: `<hypervisor>/<credential id>`, `shared-agent-token` or `operator` */
  readonly credential: string;
  readonly code: ErrorCode;
  readonly method: string;
  /** the route pattern, never the raw URL (which may carry a token) */
  readonly route: string;
  readonly message: string;
}

export interface RefusalLog {
  record(r: Refusal): void;
  /** the most recent refusals, oldest first */
  recent(): Refusal[];
}

/** Keeps the last `limit` refusals in memory and hands each to `sink` (the audit file, a log line). */
export function refusalLog(o: { limit?: number; sink?: (r: Refusal) => void } = {}): RefusalLog {
  const limit = o.limit ?? 1000;
  const kept: Refusal[] = [];
  return {
    record(r) {
      kept.push(r);
      if (kept.length > limit) kept.splice(0, kept.length - limit);
      try {
        o.sink?.(r);
      } catch {
        // a full disk must not turn a 403 into a 500; the in-memory copy still holds it
      }
    },
    recent: () => [...kept],
  };
}

/** Registering: an agent bound to a hypervisor registers only as that hypervisor. */
export function checkRegister(p: Principal, hypervisor: string): void {
  if (p.role === 'agent' && p.hypervisor !== null && p.hypervisor !== hypervisor) {
    throw new ScoreError('AGENT_IDENTITY_MISMATCH', `credential ${p.name} is bound to ${p.hypervisor}; it cannot register as ${hypervisor}`, { credential: p.name, hypervisor });
  }
}

/**
 * Reporting a finished migration of `vm`: allowed for the agent of the hypervisor the network sees
 * the VM on, and for the source or target of a migration record that is still running for this
 * VM (the source agent reports the move it made; the network may see the VM at the target first).
 */
export function checkMigrationDone(p: Principal, vm: string, facts: { hosts: readonly Host[]; migrations: readonly MigrationRecord[] }): void {
  if (p.role !== 'agent' || p.hypervisor === null) return;
  const me = p.hypervisor;
  const host = facts.hosts.find((h) => h.vm === vm || h.mac === vm);
  if (host !== undefined && host.hypervisor === me) return;
  const names = new Set([vm, ...(host !== undefined ? [host.vm, host.mac] : [])]);
  const running = facts.migrations.some((r) => r.status === 'started' && names.has(r.vm) && (r.from === me || r.to === me));
  if (running) return;
  throw new ScoreError('AGENT_VM_NOT_OURS', `credential ${p.name} may not report a migration of ${vm}: it is not on ${me} and no running migration moves it from or to ${me}`, {
    credential: p.name,
    vm,
  });
}
