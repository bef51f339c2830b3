/**
 * Per-agent identity in cluster mode: the agent credentials and the controller's agent-call key
 * live in etcd, so every member accepts the same credentials and every leader calls agents with a
 * token they accept (src/api/identity.ts, src/api/credential-store.ts).
 *
 * Keys (this module's own, beside the other features' keys):
 * - `<prefix>state/identity/credentials/<id>`: one credential, `{ id, hypervisor, createdAt,
 *   revokedAt, sha256 }` (the SHA-256 of the token, hex; the token itself is never stored);
 *   written only by the leader, fenced like every store write (src/store/etcd.ts);
 * - `<prefix>state/identity/controller-key`: `{ key }`, base64 of the 32-byte key the controller
 *   derives its per-agent call tokens from; created once, by whichever member starts first
 *   (create-if-absent transaction), never changed: a new leader derives the same tokens, so agents
 *   keep accepting the controller without registering again;
 * - `<prefix>identity-acks/<member id>`: the last etcd revision of the credentials this member
 *   applied (unfenced: every member writes its own).
 *
 * Each member keeps a copy of the credentials fed by an etcd watch, so `verify` answers from
 * memory, synchronously. Issuing and revoking run on the leader (followers proxy the write:
 * src/cluster/api.ts) and answer once every live member (one with an election key) acknowledged
 * the change, or after the lease TTL: by then a member that did not acknowledge has not heard
 * from etcd for a whole TTL and refuses every agent credential (fail closed, 503
 * CLUSTER_UNAVAILABLE), so a revoked credential is accepted nowhere once its revocation answered.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Etcd3, Watcher } from 'etcd3';
import { ScoreError } from '../errors/errors.ts';
import type { Credential, CredentialStore, Verified } from '../api/credential-store.ts';
import type { Fence } from '../store/etcd.ts';

/** What this module needs of a cluster member (src/cluster/member.ts). */
export interface IdentityMember {
  readonly client: Etcd3;
  /** `score/<cluster>/` */
  readonly prefix: string;
  readonly id: string;
  fence(): Fence | undefined;
  /** true while this member's lease is surely alive: it heard from etcd within the lease TTL */
  inContact(): boolean;
  /** lease TTL, ms */
  readonly ttlMs: number;
}

export interface ClusterIdentity {
  readonly credentials: CredentialStore;
  /** the controller's agent-call key, the same on every member */
  readonly controllerKey: Uint8Array;
  /** etcd revision of the credentials this member applied */
  appliedRevision(): bigint;
  close(): Promise<void>;
}

interface Stored {
  readonly id: string;
  readonly hypervisor: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly sha256: string;
}

const ID_PATTERN = /^cred-[0-9a-f]{12}$/;
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const NOTHING = digest('no such credential');

function isStored(x: unknown): x is Stored {
  const s = x as Partial<Stored> | null;
  return (
    typeof s === 'object' && s !== null && typeof s.id === 'string' && ID_PATTERN.test(s.id) && typeof s.hypervisor === 'string' && typeof s.createdAt === 'number' &&
    (s.revokedAt === null || typeof s.revokedAt === 'number') && typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256)
  );
}

const unavailable = (what: string, e: unknown): ScoreError =>
  e instanceof ScoreError ? e : new ScoreError('CLUSTER_UNAVAILABLE', `etcd ${what} failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });

/**
 * The shared controller key: read it, or create it if no member did yet.
 * @throws ScoreError CLUSTER_UNAVAILABLE (etcd unreachable, or the stored key is not 32 bytes of base64)
 */
export async function sharedControllerKey(client: Etcd3, prefix: string): Promise<Uint8Array> {
  const key = `${prefix}state/identity/controller-key`;
  try {
    const fresh = randomBytes(32).toString('base64');
    // create revision 0: the key does not exist; whoever creates it first wins, everyone reads that
    await client.if(key, 'Create', '==', 0).then(client.put(key).value(JSON.stringify({ key: fresh }))).commit();
    const text = await client.get(key).string();
    const stored = text === null ? undefined : (JSON.parse(text) as { key?: unknown }).key;
    const bytes = typeof stored === 'string' ? Buffer.from(stored, 'base64') : Buffer.alloc(0);
    if (bytes.length !== 32) throw new ScoreError('CLUSTER_UNAVAILABLE', `${key} does not hold a 32-byte key`, { key });
    return new Uint8Array(bytes);
  } catch (e) {
    throw unavailable('reading the controller key', e);
  }
}

export interface ClusterIdentityOptions {
  readonly member: IdentityMember;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  /** ms since epoch for createdAt/revokedAt (default Date.now) */
  readonly now?: () => number;
  /** how often the leader checks the members' acknowledgements, ms (default 10) */
  readonly ackPollMs?: number;
}

/**
 * Loads the credentials and the controller key from etcd and starts watching the credentials.
 * Call before the API serves; `close()` stops the watch.
 * @throws ScoreError CLUSTER_UNAVAILABLE when etcd cannot be read
 */
export async function startClusterIdentity(o: ClusterIdentityOptions): Promise<ClusterIdentity> {
  const { member } = o;
  const { client } = member;
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => undefined);
  const credPrefix = `${member.prefix}state/identity/credentials/`;
  const ackPrefix = `${member.prefix}identity-acks/`;
  const electionPrefix = `${member.prefix}election/`;
  const controllerKey = await sharedControllerKey(client, member.prefix);

  const byId = new Map<string, { credential: Credential; hash: Buffer }>();
  const listeners = new Set<(c: Credential) => void>();
  let applied = 0n;
  let watching = false;

  const fire = (c: Credential): void => {
    for (const l of listeners) {
      try {
        l(c);
      } catch {
        // a failing listener must not keep the others from closing their streams
      }
    }
  };
  /** Applies one stored record (or a deletion); a revocation seen for the first time fires the listeners. */
  const apply = (id: string, value: Stored | null): void => {
    const before = byId.get(id);
    if (value === null) {
      byId.delete(id);
      return;
    }
    const credential: Credential = { id: value.id, hypervisor: value.hypervisor, createdAt: value.createdAt, revokedAt: value.revokedAt };
    byId.set(id, { credential, hash: Buffer.from(value.sha256, 'hex') });
    if (credential.revokedAt !== null && before?.credential.revokedAt == null) fire(credential);
  };
  const parse = (key: string, text: string): Stored | undefined => {
    try {
      const v = JSON.parse(text) as unknown;
      if (isStored(v) && key === `${credPrefix}${v.id}`) return v;
    } catch {
      // reported below
    }
    log('warn', `cluster: ${key} is not a credential record; ignored`);
    return undefined;
  };

  let ackChain: Promise<void> = Promise.resolve();
  const ack = (): void => {
    const rev = applied;
    ackChain = ackChain
      .then(async () => {
        await client.put(`${ackPrefix}${member.id}`).value(rev.toString()).exec();
      })
      .catch((e: unknown) => log('warn', `cluster: credential acknowledgement not written: ${e instanceof Error ? e.message : String(e)}`));
  };

  let watcher: Watcher;
  try {
    const r = await client.getAll().prefix(credPrefix).exec();
    for (const kv of r.kvs) {
      const v = parse(kv.key.toString(), kv.value.toString());
      if (v !== undefined) apply(v.id, v);
    }
    applied = BigInt(r.header.revision);
    watcher = await client.watch().prefix(credPrefix).startRevision((applied + 1n).toString()).create();
  } catch (e) {
    throw unavailable('loading the agent credentials', e);
  }
  watching = true;
  ack();
  watcher.on('data', (res) => {
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const id = key.slice(credPrefix.length);
      if (ev.type === 'Delete') apply(id, null);
      else {
        const v = parse(key, ev.kv.value.toString());
        if (v !== undefined) apply(id, v);
      }
    }
    const rev = BigInt(res.header.revision);
    if (rev > applied) applied = rev;
    ack();
  });
  // While the watch is down this member may miss a revocation: it accepts no agent credential
  // until the watch is back (it resumes from the last revision it saw, so nothing is skipped).
  watcher.on('disconnected', () => {
    watching = false;
  });
  watcher.on('connected', () => {
    watching = true;
  });
  watcher.on('error', () => {
    watching = false;
  });

  /**
   * Waits until every member with a live election key acknowledged revision `rev`, at most one
   * lease TTL (plus 100 ms): a member still behind then is out of contact and refuses agent
   * credentials itself.
   */
  const settle = async (rev: bigint): Promise<void> => {
    const deadline = Date.now() + member.ttlMs + 100;
    let missing: string[] = [];
    for (;;) {
      try {
        const [election, acks] = await Promise.all([client.getAll().prefix(electionPrefix).strings(), client.getAll().prefix(ackPrefix).strings()]);
        const ids = Object.values(election).flatMap((v) => {
          try {
            const id = (JSON.parse(v) as { id?: unknown }).id;
            return typeof id === 'string' ? [id] : [];
          } catch {
            return [];
          }
        });
        missing = ids.filter((id) => {
          const a = acks[`${ackPrefix}${id}`];
          return a === undefined || !/^\d+$/.test(a) || BigInt(a) < rev;
        });
        if (missing.length === 0) return;
      } catch (e) {
        missing = [`(etcd: ${e instanceof Error ? e.message : String(e)})`];
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, o.ackPollMs ?? 10));
    }
    log('warn', `cluster: credential change (revision ${rev}) not acknowledged by ${missing.join(', ')} within the lease TTL; they refuse agent credentials until they catch up`);
  };

  /** A fenced write of one record; resolves once every live member applied it (settle). */
  const write = async (value: Stored): Promise<void> => {
    const fence = member.fence();
    if (fence === undefined) throw new ScoreError('CLUSTER_NOT_LEADER', `credential ${value.id}: this controller is not the cluster leader`, { id: value.id });
    const key = `${credPrefix}${value.id}`;
    let r;
    try {
      r = await client.if(fence.key, 'Create', '==', fence.createRevision).then(client.put(key).value(JSON.stringify(value))).commit();
    } catch (e) {
      throw unavailable(`writing credential ${value.id}`, e);
    }
    if (!r.succeeded) throw new ScoreError('CLUSTER_NOT_LEADER', `credential ${value.id}: refused, the election key ${fence.key} is gone: leadership was lost`, { id: value.id });
    // our own copy at once (the watch brings the same record again; applying it twice is harmless)
    apply(value.id, value);
    await settle(BigInt(r.header.revision));
  };

  const readStored = async (id: string): Promise<Stored | undefined> => {
    let text: string | null;
    try {
      text = await client.get(`${credPrefix}${id}`).string();
    } catch (e) {
      throw unavailable(`reading credential ${id}`, e);
    }
    return text === null ? undefined : parse(`${credPrefix}${id}`, text);
  };

  const credentials: CredentialStore = {
    async issue(hypervisor) {
      if (hypervisor.length === 0 || hypervisor.length > 64) throw new ScoreError('API_BAD_REQUEST', 'a hypervisor name has 1 to 64 characters', { hypervisor });
      let id: string;
      // 48 random bits: a clash is unlikely, and etcd is asked, not only our copy
      do id = `cred-${randomBytes(6).toString('hex')}`;
      while (byId.has(id) || (await readStored(id)) !== undefined);
      const token = `${id}.${randomBytes(32).toString('base64url')}`;
      const value: Stored = { id, hypervisor, createdAt: now(), revokedAt: null, sha256: digest(token).toString('hex') };
      await write(value);
      return { credential: { id, hypervisor, createdAt: value.createdAt, revokedAt: null }, token };
    },
    async revoke(id) {
      // etcd, not the copy: the authoritative record (the leader is the only writer)
      const stored = ID_PATTERN.test(id) ? await readStored(id) : undefined;
      if (stored === undefined) throw new ScoreError('UNKNOWN_CREDENTIAL', `no credential "${id}"`, { id });
      const c: Credential = { id: stored.id, hypervisor: stored.hypervisor, createdAt: stored.createdAt, revokedAt: stored.revokedAt };
      if (stored.revokedAt !== null) return c;
      const value: Stored = { ...stored, revokedAt: now() };
      await write(value);
      return { ...c, revokedAt: value.revokedAt };
    },
    list: () => Promise.resolve([...byId.values()].map((e) => e.credential).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))),
    verify(token) {
      const dot = token.indexOf('.');
      const id = dot > 0 ? token.slice(0, dot) : '';
      const entry = ID_PATTERN.test(id) ? byId.get(id) : undefined;
      const match = timingSafeEqual(digest(token), entry?.hash ?? NOTHING);
      if (entry === undefined || !match) return null;
      if (!watching || !member.inContact()) {
        throw new ScoreError('CLUSTER_UNAVAILABLE', `this controller (${member.id}) is out of contact with etcd and may have missed a revocation: agent credentials are refused until it is back; try another member`, { member: member.id });
      }
      const v: Verified = { status: entry.credential.revokedAt === null ? 'active' : 'revoked', credential: entry.credential };
      return v;
    },
    onRevoke(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  return {
    credentials,
    controllerKey,
    appliedRevision: () => applied,
    async close() {
      listeners.clear();
      await watcher.cancel().catch(() => undefined);
      await ackChain;
    },
  };
}
