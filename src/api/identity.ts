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
  /** caller-supplied values in it are JSON-quoted, so they cannot forge a log line */
  readonly message: string;
  /** refusals of the same credential left out (rate limit) since its previous line */
  readonly suppressed?: number;
}

export interface RefusalLog {
  record(r: Refusal): void;
  /** the most recent refusals, oldest first */
  recent(): Refusal[];
  /** resolves when every line handed to the sink so far is written */
  flush(): Promise<void>;
}

export interface RefusalLogOptions {
  /** refusals kept in memory (default 1000) */
  readonly limit?: number;
  /** lines kept per credential per second of `at` (default 20); the rest are counted, and the count rides on its next line */
  readonly perCredentialPerSecond?: number;
  /** where kept refusals go (the audit file, a log line); may write asynchronously */
  readonly sink?: (r: Refusal) => void | Promise<void>;
}

/**
 * Keeps the last `limit` refusals in memory and hands each to `sink`, at most
 * `perCredentialPerSecond` per credential and second, so that one credential hammering a
 * forbidden route neither floods the audit file nor pushes the other credentials' lines out.
 * Seconds are taken from the refusals' own `at`; the sink's writes are chained, never awaited by
 * the request that was refused.
 */
export function refusalLog(o: RefusalLogOptions = {}): RefusalLog {
  const limit = o.limit ?? 1000;
  const perSecond = o.perCredentialPerSecond ?? 20;
  const kept: Refusal[] = [];
  const windows = new Map<string, { second: number; lines: number; suppressed: number }>();
  let writes: Promise<void> = Promise.resolve();
  return {
    record(r) {
      const second = Math.floor(r.at / 1000);
      let w = windows.get(r.credential);
      if (w === undefined || w.second !== second) {
        // a long-lived controller sees few credentials, but do not let the map grow without bound
        if (w === undefined && windows.size >= 10_000) windows.clear();
        w = { second, lines: 0, suppressed: w?.suppressed ?? 0 };
        windows.set(r.credential, w);
      }
      if (w.lines >= perSecond) {
        w.suppressed += 1;
        return;
      }
      w.lines += 1;
      const line: Refusal = w.suppressed > 0 ? { ...r, suppressed: w.suppressed } : r;
      w.suppressed = 0;
      kept.push(line);
      if (kept.length > limit) kept.splice(0, kept.length - limit);
      const sink = o.sink;
      if (sink === undefined) return;
      // a full disk must not turn a 403 into a 500; the in-memory copy still holds it
      writes = writes.then(() => sink(line)).catch(() => undefined);
    },
    recent: () => [...kept],
    flush: () => writes,
  };
}

/** A caller-supplied value as it appears in a refusal message: quoted, newlines and all escaped. */
const q = (v: string): string => JSON.stringify(v);

/** Registering: an agent bound to a hypervisor registers only as that hypervisor. */
export function checkRegister(p: Principal, hypervisor: string): void {
  if (p.role === 'agent' && p.hypervisor !== null && p.hypervisor !== hypervisor) {
    throw new ScoreError('AGENT_IDENTITY_MISMATCH', `credential ${p.name} is bound to ${p.hypervisor}; it cannot register as ${q(hypervisor)}`, { credential: p.name, hypervisor });
  }
}

/** What a `migration-done` report claims. */
export interface MigrationDoneClaim {
  readonly vm: string;
  /** where the VM runs now */
  readonly hypervisor: string;
  readonly migrationId?: string | undefined;
}

/**
 * Reporting a finished migration: for an agent bound to hypervisor `me`, either
 * (a) the VM arrived at `me` (`claim.hypervisor === me`), and the network sees it on `me` or a
 *     running (`started`) record moves it to `me` (a record whose target is not decided yet does
 *     not: any hypervisor could claim it then; its source reports it, as (b)); or
 * (b) `me` is the source of the running record `claim.migrationId` of this VM, and the claimed
 *     target is that record's target (or the record has none yet: the source agent reports before
 *     the controller hears the decision); or
 * (c) as (b), for a record this controller finished by reconciling it since it became cluster
 *     leader (`facts.reconciled`: ids), the source reporting that record's target or itself.
 * Anything else is AGENT_VM_NOT_OURS (403). The shared token and the operator are not bound.
 */
export function checkMigrationDone(p: Principal, claim: MigrationDoneClaim, facts: { hosts: readonly Host[]; migrations: readonly MigrationRecord[]; reconciled?: ReadonlySet<string> | undefined }): void {
  if (p.role !== 'agent' || p.hypervisor === null) return;
  const me = p.hypervisor;
  const { vm } = claim;
  const host = facts.hosts.find((h) => h.vm === vm || h.mac === vm);
  const names = new Set([vm, ...(host !== undefined ? [host.vm, host.mac] : [])]);
  const running = facts.migrations.filter((r) => r.status === 'started' && names.has(r.vm));
  if (claim.hypervisor === me) {
    if (host !== undefined && host.hypervisor === me) return;
    if (running.some((r) => r.to === me)) return;
    // the source of a running migration whose switch-over failed: the VM runs on here
    if (claim.migrationId !== undefined && running.some((r) => r.id === claim.migrationId && r.from === me)) return;
  } else if (claim.migrationId !== undefined && running.some((r) => r.id === claim.migrationId && r.from === me && (r.to === null || r.to === claim.hypervisor))) {
    return;
  }
  // (c) a migration the old leader started and this leader finished by reconciling it from the
  // agent (cluster/orchestration.ts) while the agent was still about to report it: the source's
  // last word on where the VM runs (its target, or itself) still counts
  if (claim.migrationId !== undefined && facts.reconciled?.has(claim.migrationId) === true) {
    const r = facts.migrations.find((m) => m.id === claim.migrationId && names.has(m.vm) && m.from === me);
    if (r !== undefined && (claim.hypervisor === me || r.to === null || r.to === claim.hypervisor)) return;
  }
  throw new ScoreError(
    'AGENT_VM_NOT_OURS',
    `credential ${p.name} may not report ${q(vm)} on ${q(claim.hypervisor)}: only a VM arriving at ${me}, or the target of a running migration ${me} is the source of (migration id ${claim.migrationId === undefined ? 'missing' : q(claim.migrationId)})`,
    { credential: p.name, vm, hypervisor: claim.hypervisor, ...(claim.migrationId !== undefined ? { migrationId: claim.migrationId } : {}) },
  );
}
