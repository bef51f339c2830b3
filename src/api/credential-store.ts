import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ScoreError } from '../errors/errors.ts';

/**
 * Per-hypervisor agent credentials: bearer tokens the controller issues, each bound to one
 * hypervisor name (as Kubernetes binds a kubelet's credential to its node). The store keeps only
 * SHA-256 digests; a token is shown once, when it is issued.
 *
 * Token shape: `<id>.<secret>`, id = `cred-` + 12 hex digits (public: it names the credential in
 * lists and audit lines), secret = 32 random bytes, base64url.
 */
export interface Credential {
  readonly id: string;
  /** the hypervisor this credential may act as */
  readonly hypervisor: string;
  /** ms since epoch */
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

export type Verified = { readonly status: 'active'; readonly credential: Credential } | { readonly status: 'revoked'; readonly credential: Credential };

/**
 * What the API needs from a credential store. `verify` is synchronous because it runs on every
 * request: a shared-store implementation (etcd, cluster mode) keeps a watch-fed local copy and
 * answers from it, while `issue` and `revoke` resolve once the change is stored.
 */
export interface CredentialStore {
  issue(hypervisor: string): Promise<{ credential: Credential; token: string }>;
  revoke(id: string): Promise<Credential>;
  list(): Promise<Credential[]>;
  /** null: not a token of this store (unknown id or wrong secret) */
  verify(token: string): Verified | null;
  /** called once per revocation, after it took effect (also for revocations made elsewhere) */
  onRevoke(listener: (c: Credential) => void): () => void;
  /**
   * Shared stores only: false while `verify` refuses every agent credential (cluster mode, the
   * local copy is not surely current); open agent streams end then (src/cluster/events.ts).
   */
  available?(): boolean;
}

/** A credential id: `cred-` and 12 hex digits (the token is `<id>.<secret>`). */
export const ID_PATTERN = /^cred-[0-9a-f]{12}$/;
/** What a store keeps of a token: its SHA-256 (32 bytes). */
export const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
// Compared against when the id is unknown, so a miss costs the same hash-and-compare as a hit.
const NOTHING = digest('no such credential');

/**
 * The entry a bearer token names, if its SHA-256 matches: the id before the first dot picks the
 * entry, the hash is compared in constant time (also for an unknown id). Shared by every store.
 */
export function entryForToken<E extends { readonly hash: Buffer }>(byId: ReadonlyMap<string, E>, token: string): E | undefined {
  const dot = token.indexOf('.');
  const id = dot > 0 ? token.slice(0, dot) : '';
  const entry = ID_PATTERN.test(id) ? byId.get(id) : undefined;
  const match = timingSafeEqual(digest(token), entry?.hash ?? NOTHING);
  return match ? entry : undefined;
}

export interface MemoryStoreOptions {
  /** ms since epoch (default Date.now) */
  readonly now?: () => number;
}

/** The credential store of a single controller: in memory, gone at restart. */
export function memoryCredentialStore(o: MemoryStoreOptions = {}): CredentialStore {
  const now = o.now ?? Date.now;
  const byId = new Map<string, { credential: Credential; hash: Buffer }>();
  const listeners = new Set<(c: Credential) => void>();
  return {
    issue(hypervisor) {
      if (hypervisor.length === 0 || hypervisor.length > 64) {
        return Promise.reject(new ScoreError('API_BAD_REQUEST', 'a hypervisor name has 1 to 64 characters', { hypervisor }));
      }
      let id: string;
      do id = `cred-${randomBytes(6).toString('hex')}`;
      while (byId.has(id));
      const token = `${id}.${randomBytes(32).toString('base64url')}`;
      const credential: Credential = { id, hypervisor, createdAt: now(), revokedAt: null };
      byId.set(id, { credential, hash: digest(token) });
      return Promise.resolve({ credential, token });
    },
    revoke(id) {
      const entry = byId.get(id);
      if (entry === undefined) return Promise.reject(new ScoreError('UNKNOWN_CREDENTIAL', `no credential "${id}"`, { id }));
      if (entry.credential.revokedAt !== null) return Promise.resolve(entry.credential);
      entry.credential = { ...entry.credential, revokedAt: now() };
      const revoked = entry.credential;
      for (const l of listeners) {
        try {
          l(revoked);
        } catch {
          // a failing listener must not keep the others from closing their streams
        }
      }
      return Promise.resolve(revoked);
    },
    // issue order (the map keeps it), which is also creation-time order
    list: () => Promise.resolve([...byId.values()].map((e) => e.credential)),
    verify(token) {
      const entry = entryForToken(byId, token);
      if (entry === undefined) return null;
      return { status: entry.credential.revokedAt === null ? 'active' : 'revoked', credential: entry.credential };
    },
    onRevoke(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
