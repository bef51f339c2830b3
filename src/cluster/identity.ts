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
 * - `<prefix>state/identity/heartbeat`: `{ leader, at }`, rewritten (fenced) by the leader every
 *   third of the lease TTL;
 * - `<prefix>identity-acks/<member id>`: the last etcd revision of the credentials this member
 *   applied (unfenced: every member writes its own; bound to the member's lease).
 *
 * Each member keeps a copy of the credentials fed by an etcd watch on `state/identity/`, so
 * `verify` answers from memory, synchronously. It accepts agent credentials only while it can
 * show the copy is current: lease alive, watch up, and within one TTL either a full read or a
 * leader heartbeat through the watch (events arrive in revision order, so a heartbeat seen means
 * every earlier change was seen; a watch that silently stops delivering shows as missing
 * heartbeats). After a reconnect or a watch error it reads everything again before trusting the
 * copy. Otherwise: 503 CLUSTER_UNAVAILABLE (fail closed).
 *
 * Issuing and revoking run on the leader (followers proxy the write: src/cluster/api.ts) and
 * answer once every live member (one with an election key) acknowledged the change. A member
 * that did not within one TTL has seen no heartbeat written after the change, so it refuses
 * agent credentials by then; the revocation answers 503 CLUSTER_UNCONFIRMED naming it (an issue
 * still answers: the token is shown only once).
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import { ScoreError } from '../errors/errors.ts';
import { type Credential, type CredentialStore, type Verified, ID_PATTERN, digest, entryForToken } from '../api/credential-store.ts';
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
  /** the member's lease id (its acknowledgement key is bound to it), once granted */
  leaseId?(): string | undefined;
}

export interface ClusterIdentity {
  readonly credentials: CredentialStore;
  /** the controller's agent-call key, the same on every member */
  readonly controllerKey: Uint8Array;
  /** etcd revision of the credentials this member applied */
  appliedRevision(): bigint;
  /** true while this member accepts agent credentials (its copy is surely current) */
  available(): boolean;
  close(): Promise<void>;
}

interface Stored {
  readonly id: string;
  readonly hypervisor: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly sha256: string;
}


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
  /** how often the leader writes the heartbeat key, ms (default a third of the lease TTL) */
  readonly heartbeatMs?: number;
}

/** A credential held in memory, with the etcd revision of the record it came from. */
interface Held {
  readonly credential: Credential;
  readonly hash: Buffer;
  readonly modRevision: bigint;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

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
  const identityPrefix = `${member.prefix}state/identity/`;
  const credPrefix = `${identityPrefix}credentials/`;
  const heartbeatKey = `${identityPrefix}heartbeat`;
  const ackPrefix = `${member.prefix}identity-acks/`;
  const electionPrefix = `${member.prefix}election/`;
  const controllerKey = await sharedControllerKey(client, member.prefix);

  const byId = new Map<string, Held>();
  const listeners = new Set<(c: Credential) => void>();
  let applied = 0n;
  /** the watch is up and everything it may have skipped was read again (resync) */
  let watching = false;
  /**
   * performance.now() of the last proof that our copy was current: a quorum read of every
   * credential (load), or the leader's heartbeat arriving through the watch (the watch delivers
   * in revision order, so a heartbeat written at revision h means we saw every change before h).
   */
  let freshAt = -Infinity;
  let closed = false;
  let watcher: Watcher | undefined;

  const fire = (c: Credential): void => {
    for (const l of listeners) {
      try {
        l(c);
      } catch {
        // a failing listener must not keep the others from closing their streams
      }
    }
  };
  /**
   * Applies one stored record (or a deletion) at etcd revision `rev`. A record older than the one
   * held is ignored (the watch may replay what a load or our own write already applied), and a
   * revocation is never undone; a revocation seen for the first time fires the listeners.
   */
  const apply = (id: string, value: Stored | null, rev: bigint): void => {
    const before = byId.get(id);
    if (before !== undefined && rev < before.modRevision) return;
    if (value === null) {
      byId.delete(id);
      return;
    }
    const wasRevoked = before?.credential.revokedAt ?? null;
    if (value.revokedAt === null && wasRevoked !== null) log('warn', `cluster: ${credPrefix}${id} says active again after its revocation; it stays revoked`);
    const credential: Credential = { id: value.id, hypervisor: value.hypervisor, createdAt: value.createdAt, revokedAt: value.revokedAt ?? wasRevoked };
    byId.set(id, { credential, hash: Buffer.from(value.sha256, 'hex'), modRevision: rev });
    if (credential.revokedAt !== null && wasRevoked === null) fire(credential);
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
    const lease = member.leaseId?.();
    ackChain = ackChain
      .then(async () => {
        if (closed) return;
        // bound to our election lease: the key goes when this member does
        const put = client.put(`${ackPrefix}${member.id}`).value(rev.toString());
        await (lease === undefined ? put : put.lease(lease)).exec();
      })
      .catch((e: unknown) => log('warn', `cluster: credential acknowledgement not written: ${message(e)}`));
  };

  /** Reads every credential (a quorum read): the copy is then current as of that read. */
  const load = async (): Promise<void> => {
    const r = await client.getAll().prefix(credPrefix).exec();
    const rev = BigInt(r.header.revision);
    const seen = new Set<string>();
    for (const kv of r.kvs) {
      const v = parse(kv.key.toString(), kv.value.toString());
      if (v === undefined) continue;
      seen.add(v.id);
      apply(v.id, v, BigInt(kv.mod_revision));
    }
    for (const [id, held] of [...byId]) if (!seen.has(id) && held.modRevision <= rev) byId.delete(id);
    if (rev > applied) applied = rev;
    freshAt = performance.now();
  };

  const onData = (res: IWatchResponse): void => {
    let heartbeat = false;
    let changed = false;
    // a batch of a backlog replay carries the current revision in its header: only the events
    // say how far we got; a reply without events (progress) is current up to its header
    let upTo = res.events.length === 0 ? BigInt(res.header.revision) : 0n;
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const rev = BigInt(ev.kv.mod_revision);
      if (rev > upTo) upTo = rev;
      if (key === heartbeatKey) heartbeat = true;
      if (!key.startsWith(credPrefix)) continue;
      changed = true;
      const id = key.slice(credPrefix.length);
      if (ev.type === 'Delete') apply(id, null, rev);
      else {
        const v = parse(key, ev.kv.value.toString());
        if (v !== undefined) apply(id, v, rev);
      }
    }
    if (upTo > applied) applied = upTo;
    if (heartbeat && watching) freshAt = performance.now();
    if (changed && watching) ack();
  };

  /**
   * Until `load` succeeds again: no agent credential is accepted. Used after the watch reconnected
   * (etcd3 resumes it from the reconnect reply's revision, so events in between may be skipped:
   * the read brings them) and after a watch error (the watch is opened again after the read).
   */
  let resyncing: Promise<void> | undefined;
  /** the current watch stream is up */
  let connected = true;
  /** counts the watch's reconnections: a read that started before the last one is read again */
  let epoch = 0;
  /** etcd cancelled the watch: a new one is opened after the read */
  let reopenNeeded = false;
  const resync = (reopen: boolean): void => {
    watching = false;
    if (reopen) reopenNeeded = true;
    if (closed || resyncing !== undefined) return;
    resyncing = (async () => {
      while (!closed) {
        try {
          const started = epoch;
          const reopenWatch = reopenNeeded;
          if (reopenWatch) {
            await watcher?.cancel().catch(() => undefined);
            watcher = undefined;
          }
          await load();
          if (reopenWatch) {
            await openWatch();
            reopenNeeded = false;
            connected = true;
          }
          if (closed) return;
          // it reconnected again, or failed, while we read: read again
          if (started !== epoch || reopenNeeded) continue;
          if (!connected) return; // down again: its next 'connected' reads again
          watching = true;
          ack();
          log('info', `cluster: agent credentials read again from etcd (revision ${applied})`);
          return;
        } catch (e) {
          log('warn', `cluster: reading the agent credentials again failed (${message(e)}); agent credentials refused meanwhile`);
          await new Promise((r) => {
            setTimeout(r, Math.max(100, member.ttlMs / 3)).unref();
          });
        }
      }
    })().finally(() => {
      resyncing = undefined;
    });
  };

  const openWatch = async (): Promise<void> => {
    // the whole identity prefix: the credentials and the leader's heartbeat
    const w = await client.watch().prefix(identityPrefix).startRevision((applied + 1n).toString()).create();
    if (closed) {
      await w.cancel().catch(() => undefined);
      return;
    }
    watcher = w;
    w.on('data', (res) => {
      if (watcher === w) onData(res);
    });
    w.on('disconnected', () => {
      if (watcher !== w) return;
      connected = false;
      watching = false;
    });
    w.on('connected', () => {
      if (watcher !== w) return;
      connected = true;
      epoch += 1;
      resync(false);
    });
    w.on('error', (e) => {
      if (watcher !== w) return;
      log('warn', `cluster: credentials watch failed (${message(e)}); reading them again`);
      connected = false;
      resync(true);
    });
  };

  try {
    await load();
    await openWatch();
  } catch (e) {
    throw unavailable('loading the agent credentials', e);
  }
  watching = true;
  ack();

  // The leader's heartbeat (fenced: only the leader writes it): every member that sees it through
  // its watch knows its copy is current up to that moment.
  // Checked every 100 ms so that a new leader beats at once (the members' last heartbeat came
  // from the old leader, a TTL or so ago), then every heartbeatMs.
  const heartbeatMs = o.heartbeatMs ?? Math.max(50, Math.floor(member.ttlMs / 3));
  let beating = false;
  let beatFence = '';
  let beatAt = -Infinity;
  const beat = setInterval(
    () => {
      const fence = member.fence();
      if (fence === undefined || beating || closed) return;
      if (fence.createRevision === beatFence && performance.now() - beatAt < heartbeatMs) return;
      beatFence = fence.createRevision;
      beatAt = performance.now();
      beating = true;
      client
        .if(fence.key, 'Create', '==', fence.createRevision)
        .then(client.put(heartbeatKey).value(JSON.stringify({ leader: member.id, at: now() })))
        .commit()
        .catch((e: unknown) => log('warn', `cluster: credentials heartbeat not written: ${message(e)}`))
        .finally(() => {
          beating = false;
        });
    },
    Math.min(100, heartbeatMs),
  );
  beat.unref();

  /** true while this member's copy is surely current (see `freshAt`) and its lease alive */
  const available = (): boolean => watching && member.inContact() && performance.now() - freshAt <= member.ttlMs;

  /**
   * Waits until every member with a live election key acknowledged revision `rev`, at most one
   * lease TTL (plus 100 ms). A member still behind then has not seen a heartbeat written after
   * `rev`, so its copy stops counting as current at most one TTL after `rev` was committed and
   * it refuses agent credentials until it catches up.
   * @returns the members that did not acknowledge (empty: all did)
   */
  const settle = async (rev: bigint): Promise<string[]> => {
    const deadline = Date.now() + member.ttlMs + 100;
    let missing: string[] = [];
    while (!closed) {
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
        if (missing.length === 0) return [];
      } catch (e) {
        missing = [`(etcd: ${message(e)})`];
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, o.ackPollMs ?? 10));
    }
    if (closed) return ['(this controller is stopping)'];
    log('warn', `cluster: credential change (revision ${rev}) not acknowledged by ${missing.join(', ')} within the lease TTL; they refuse agent credentials until they catch up`);
    return missing;
  };

  /**
   * A fenced write of one record, only if the record is still at revision `expect` (0: absent).
   * @returns the commit revision, or 'conflict' when the record changed meanwhile
   */
  const write = async (value: Stored, expect: bigint): Promise<bigint | 'conflict'> => {
    const fence = member.fence();
    if (fence === undefined) throw new ScoreError('CLUSTER_NOT_LEADER', `credential ${value.id}: this controller is not the cluster leader`, { id: value.id });
    const key = `${credPrefix}${value.id}`;
    let r;
    try {
      r = await client
        .if(fence.key, 'Create', '==', fence.createRevision)
        .and(key, 'Mod', '==', expect.toString())
        .then(client.put(key).value(JSON.stringify(value)))
        .else(client.get(fence.key))
        .commit();
    } catch (e) {
      throw unavailable(`writing credential ${value.id}`, e);
    }
    if (!r.succeeded) {
      const held = r.responses[0]?.response_range?.kvs[0]?.create_revision;
      if (held !== fence.createRevision) throw new ScoreError('CLUSTER_NOT_LEADER', `credential ${value.id}: refused, the election key ${fence.key} is gone: leadership was lost`, { id: value.id });
      return 'conflict';
    }
    const rev = BigInt(r.header.revision);
    // our own copy at once (the watch brings the same record again; apply ignores it then)
    apply(value.id, value, rev);
    return rev;
  };

  const readStored = async (id: string): Promise<{ value: Stored; modRevision: bigint } | undefined> => {
    let kv;
    try {
      kv = (await client.get(`${credPrefix}${id}`).exec()).kvs[0];
    } catch (e) {
      throw unavailable(`reading credential ${id}`, e);
    }
    const value = kv === undefined ? undefined : parse(`${credPrefix}${id}`, kv.value.toString());
    return kv === undefined || value === undefined ? undefined : { value, modRevision: BigInt(kv.mod_revision) };
  };

  const credentials: CredentialStore = {
    async issue(hypervisor) {
      if (hypervisor.length === 0 || hypervisor.length > 64) throw new ScoreError('API_BAD_REQUEST', 'a hypervisor name has 1 to 64 characters', { hypervisor });
      for (;;) {
        // 48 random bits; the write itself is create-if-absent, so a clash is tried again
        const id = `cred-${randomBytes(6).toString('hex')}`;
        if (byId.has(id)) continue;
        const token = `${id}.${randomBytes(32).toString('base64url')}`;
        const value: Stored = { id, hypervisor, createdAt: now(), revokedAt: null, sha256: digest(token).toString('hex') };
        const rev = await write(value, 0n);
        if (rev === 'conflict') continue;
        // Not confirmed everywhere in time: still answered, the token is shown only now; a
        // member that did not confirm does not know the credential yet and refuses it (401).
        await settle(rev);
        return { credential: { id, hypervisor, createdAt: value.createdAt, revokedAt: null }, token };
      }
    },
    async revoke(id) {
      for (;;) {
        // etcd, not the copy: the authoritative record
        const stored = ID_PATTERN.test(id) ? await readStored(id) : undefined;
        if (stored === undefined) throw new ScoreError('UNKNOWN_CREDENTIAL', `no credential "${id}"`, { id });
        let value = stored.value;
        let rev = stored.modRevision;
        if (value.revokedAt === null) {
          value = { ...value, revokedAt: now() };
          const written = await write(value, stored.modRevision);
          if (written === 'conflict') continue;
          rev = written;
        }
        // also when it was revoked already: answering again means every live member confirmed
        const missing = await settle(rev);
        if (missing.length > 0) {
          throw new ScoreError(
            'CLUSTER_UNCONFIRMED',
            `credential ${id} is revoked in etcd (revision ${rev}), but ${missing.join(', ')} did not confirm it within the lease TTL: they refuse every agent credential until they catch up; check them, then revoke again to confirm`,
            { id, members: missing, revision: rev.toString() },
          );
        }
        return { id: value.id, hypervisor: value.hypervisor, createdAt: value.createdAt, revokedAt: value.revokedAt };
      }
    },
    list: () => Promise.resolve([...byId.values()].map((e) => e.credential).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))),
    verify(token) {
      const entry = entryForToken(byId, token);
      if (entry === undefined) return null;
      if (!available()) {
        throw new ScoreError(
          'CLUSTER_UNAVAILABLE',
          `this controller (${member.id}) cannot show that its copy of the agent credentials is current (etcd out of reach, or no leader heartbeat through its watch for a lease TTL) and may have missed a revocation: agent credentials are refused until it is back; try another member`,
          { member: member.id },
        );
      }
      const v: Verified = { status: entry.credential.revokedAt === null ? 'active' : 'revoked', credential: entry.credential };
      return v;
    },
    onRevoke(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    available,
  };

  return {
    credentials,
    controllerKey,
    appliedRevision: () => applied,
    available,
    async close() {
      closed = true;
      watching = false;
      clearInterval(beat);
      listeners.clear();
      await watcher?.cancel().catch(() => undefined);
      await resyncing;
      await ackChain;
    },
  };
}
