/**
 * One controller's membership in the cluster: leader election on etcd through a lease, in the
 * manner of etcd's own `concurrency.Election` (each candidate puts `<prefix>election/<lease id>`
 * bound to its lease; the live key with the lowest create revision is the leader).
 *
 * Generation id (OpenFlow 1.3 section 6.3.5): the leader's election-key create revision. etcd
 * revisions only grow, and a new leader's key was created after the old leader's (it queued
 * behind it or was created after it vanished), so every new leader's generation is larger than
 * every earlier one: exactly what the switches need to refuse a demoted master (OFPRRFC_STALE).
 *
 * Local fencing: etcd revokes a lease `ttl` seconds after the last keepalive it received, so a
 * leader counts itself leader only until (send time of its last answered keepalive) + ttl minus
 * a margin, and steps down by itself when that passes (cut off from etcd, or too slow to renew),
 * before any other member can be elected. It also steps down when its key is gone or the lease
 * is reported lost. A follower steps down too when its lease is lost or runs out, or its campaign
 * fails. A member that stepped down does not campaign again: `stepped-down` fires (leader or
 * follower) and the process exits 75 to be restarted (systemd Restart=always) with a fresh, cold
 * state (docs/cluster.md).
 */
import { EventEmitter } from 'node:events';
import { Etcd3, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import { ScoreError } from '../errors/errors.ts';
import type { Fence } from '../store/etcd.ts';
import { LeaseValidity } from './lease-validity.ts';

export interface MemberInfo {
  readonly id: string;
  /** northbound API base URL of this controller (followers redirect writes there) */
  readonly apiUrl?: string;
}

export interface LeaderView extends MemberInfo {
  /** generation id: the leader's election key create revision */
  readonly generation: bigint;
}

export type MemberRole = 'starting' | 'follower' | 'leader' | 'stepped-down' | 'stopped';

export interface MemberOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379'] */
  readonly endpoints: readonly string[];
  readonly info: MemberInfo;
  /** cluster name: keys live under `score/<cluster>/` (default "default") */
  readonly cluster?: string;
  /** lease TTL in whole seconds, >= 1 (default 2): a dead leader is replaced this long after its last keepalive */
  readonly ttlSec?: number;
  /** step down this long before the lease could expire, ms (default 400) */
  readonly marginMs?: number;
  /** per-request etcd deadline, ms (default 1500) */
  readonly requestMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  /** test hook: the clock (ms) used for lease validity; default performance.now (monotonic) */
  readonly now?: () => number;
}

export interface MemberEvents {
  /** this member became leader with this generation id */
  elected: [generation: bigint];
  /** the leader as the election shows it (undefined: none right now) */
  leader: [LeaderView | undefined];
  /**
   * this member left the election for good, leader or follower (lease lost or run out, election
   * error): stop writing anything, anywhere; `score controller` exits 75 then (docs/cluster.md)
   */
  'stepped-down': [reason: string];
}

export function parseClusterUrl(url: string): string[] {
  const m = /^etcd:\/\/(.+)$/.exec(url.trim());
  if (m === null) throw new ScoreError('CLI_USAGE', `--cluster: expected etcd://HOST:PORT[,HOST:PORT...], got "${url}"`, { url });
  const hosts = (m[1] as string).split(',').map((h) => h.trim());
  for (const h of hosts) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(h) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(h)) {
      throw new ScoreError('CLI_USAGE', `--cluster: "${h}" is not HOST:PORT`, { url });
    }
  }
  return hosts.map((h) => `http://${h}`);
}

export class ClusterMember extends EventEmitter<MemberEvents> {
  readonly client: Etcd3;
  readonly prefix: string;
  private readonly electionPrefix: string;
  private readonly ttlSec: number;
  private readonly marginMs: number;
  private readonly now: () => number;
  private readonly log: (level: 'info' | 'warn', message: string) => void;
  private info: MemberInfo;
  private lease: Lease | undefined;
  private myKey: string | undefined;
  private leaseIdValue: string | undefined;
  private myRevision: string | undefined;
  private roleValue: MemberRole = 'starting';
  private readonly validity = new LeaseValidity();
  private get validUntil(): number {
    return this.validity.validUntil;
  }
  private checkTimer: NodeJS.Timeout | undefined;
  private observer: Watcher | undefined;
  private leaderValue: LeaderView | undefined;
  private waiting: Watcher | undefined;
  /** wall time (ms) of becoming leader, for failover measurements */
  electedAt: number | undefined;
  /** leader changes this member has observed (a new leader id or generation) */
  failovers = 0;

  constructor(private readonly o: MemberOptions) {
    super();
    this.info = o.info;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(o.info.id)) throw new ScoreError('CLI_USAGE', `--id: want 1-64 chars [A-Za-z0-9._-], got "${o.info.id}"`, { id: o.info.id });
    this.ttlSec = o.ttlSec ?? 2;
    if (!Number.isInteger(this.ttlSec) || this.ttlSec < 1) throw new ScoreError('CLI_USAGE', `lease TTL must be a whole number of seconds >= 1, got ${this.ttlSec}`, {});
    this.marginMs = o.marginMs ?? 400;
    // monotonic: a wall clock stepped back would stretch the lease's validity
    this.now = o.now ?? (() => performance.now());
    this.log = o.log ?? (() => undefined);
    const requestMs = o.requestMs ?? 1500;
    this.client = new Etcd3({
      hosts: [...o.endpoints],
      dialTimeout: requestMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestMs }),
    });
    this.prefix = `score/${o.cluster ?? 'default'}/`;
    this.electionPrefix = `${this.prefix}election/`;
  }

  get role(): MemberRole {
    return this.roleValue;
  }

  get id(): string {
    return this.info.id;
  }

  /** Our generation id while leader. */
  get generation(): bigint | undefined {
    return this.roleValue === 'leader' && this.myRevision !== undefined ? BigInt(this.myRevision) : undefined;
  }

  get leader(): LeaderView | undefined {
    return this.leaderValue;
  }

  /** lease TTL, ms */
  get ttlMs(): number {
    return this.ttlSec * 1000;
  }

  /**
   * True while our lease is surely alive (its last answered keepalive was sent less than a TTL
   * ago), leader or not: a member out of contact may have missed what others wrote to etcd
   * (src/cluster/identity.ts refuses agent credentials then).
   */
  inContact(): boolean {
    return (this.roleValue === 'leader' || this.roleValue === 'follower') && this.now() < this.validUntil;
  }

  /** our lease id, once granted (other keys of this member are bound to it: src/cluster/identity.ts) */
  leaseId(): string | undefined {
    return this.leaseIdValue;
  }

  /** The store fence: our election key, while we are leader and our lease is surely alive. */
  fence(): Fence | undefined {
    if (this.roleValue !== 'leader' || this.myKey === undefined || this.myRevision === undefined) return undefined;
    if (this.now() > this.validUntil - this.marginMs) return undefined;
    return { key: this.myKey, createRevision: this.myRevision };
  }

  /**
   * Grants the lease, enters the election and starts observing it. Resolves once the candidacy
   * is recorded (leader or follower); `elected` fires later if we win.
   * @throws ScoreError CLUSTER_UNAVAILABLE when etcd cannot be reached
   */
  async start(extra: { apiUrl?: string } = {}): Promise<void> {
    this.info = { ...this.info, ...extra };
    const lease = this.client.lease(this.ttlSec);
    this.lease = lease;
    lease.on('keepaliveEstablished', () => this.validity.streamReset());
    lease.on('keepaliveFailed', () => this.validity.streamReset());
    lease.on('keepaliveFired', () => this.validity.fired(this.now()));
    lease.on('keepaliveSucceeded', (res) => this.validity.answered(Number(res.TTL)));
    lease.on('lost', (e) => this.stepDown(`lease lost: ${e.message}`));
    try {
      const grantAt = this.now();
      const id = await lease.grant();
      this.validity.granted(grantAt, this.ttlSec);
      this.leaseIdValue = id;
      this.myKey = `${this.electionPrefix}${id}`;
      const put = await lease.put(this.myKey).value(JSON.stringify(this.info)).exec();
      this.myRevision = put.header.revision;
    } catch (e) {
      throw new ScoreError('CLUSTER_UNAVAILABLE', `cannot join the election at ${this.o.endpoints.join(',')}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    }
    this.roleValue = 'follower';
    this.log('info', `cluster: ${this.id} is a candidate (key ${this.myKey}, revision ${this.myRevision})`);
    await this.observe();
    this.checkTimer = setInterval(() => this.check(), 100);
    this.checkTimer.unref();
    void this.campaign();
  }

  /** Resigns (the lease is revoked, so another member takes over at once) and closes the client. */
  async stop(): Promise<void> {
    const was = this.roleValue;
    this.roleValue = 'stopped';
    if (this.checkTimer !== undefined) clearInterval(this.checkTimer);
    if (was === 'leader') this.emit('stepped-down', 'stopped');
    await this.waiting?.cancel().catch(() => undefined);
    await this.observer?.cancel().catch(() => undefined);
    await this.lease?.revoke().catch(() => undefined);
    this.client.close();
  }

  /** Test hook and SIGTERM path without resigning: keepalives stop, the lease runs out by itself. */
  abandon(): void {
    this.lease?.release();
  }

  private check(): void {
    if (this.roleValue === 'leader' && this.now() > this.validUntil - this.marginMs) {
      this.stepDown(`lease not renewed for ${this.now() - this.validity.lastSentAt} ms (ttl ${this.ttlSec} s): cut off from etcd?`);
    }
    // a follower whose lease may have run out is no candidate any more (its key may be gone)
    if (this.roleValue === 'follower' && this.now() > this.validUntil) {
      this.stepDown(`lease not renewed for ${this.now() - this.validity.lastSentAt} ms (ttl ${this.ttlSec} s): cut off from etcd?`);
    }
  }

  private stepDown(reason: string): void {
    if (this.roleValue === 'stepped-down' || this.roleValue === 'stopped') return;
    const was = this.roleValue;
    this.roleValue = 'stepped-down';
    this.log('warn', `cluster: ${this.id} steps down (${reason})`);
    // followers too: a member that left the election never comes back by itself
    if (was === 'leader' || was === 'follower') this.emit('stepped-down', reason);
    this.lease?.release();
  }

  /** Waits until every key created before ours is gone (the predecessor chain), then leads. */
  private async campaign(): Promise<void> {
    try {
      for (;;) {
        if (this.roleValue !== 'follower') return;
        const r = await this.client
          .getAll()
          .prefix(this.electionPrefix)
          .maxCreateRevision(String(BigInt(this.myRevision as string) - 1n))
          .sort('Create', 'Descend')
          .limit(1)
          .exec();
        const before = r.kvs[0];
        if (before === undefined) break;
        await this.waitForDelete(before.key.toString(), r.header.revision);
      }
      if (this.roleValue !== 'follower') return;
      // our key must still be there: a lease that expired while we waited is no leadership
      const mine = await this.client.get(this.myKey as string).exec();
      if (mine.kvs[0]?.create_revision !== this.myRevision) {
        this.stepDown('our election key vanished while waiting');
        return;
      }
      if (this.now() > this.validUntil - this.marginMs) {
        this.stepDown('lease validity ran out while waiting');
        return;
      }
      this.roleValue = 'leader';
      this.electedAt = Date.now();
      this.log('info', `cluster: ${this.id} is LEADER, generation ${this.myRevision}`);
      this.emit('elected', BigInt(this.myRevision as string));
    } catch (e) {
      this.stepDown(`election failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async waitForDelete(key: string, seenAt: string): Promise<void> {
    const w = await this.client.watch().key(key).startRevision(String(BigInt(seenAt) + 1n)).create();
    this.waiting = w;
    try {
      await new Promise<void>((resolve, reject) => {
        w.on('delete', () => resolve());
        w.on('error', reject);
        // gone already between the read and the watch start: the watch replays nothing then
        void this.client
          .get(key)
          .exec()
          .then((r) => {
            if (r.kvs.length === 0) resolve();
          })
          .catch(() => undefined);
      });
    } finally {
      this.waiting = undefined;
      await w.cancel().catch(() => undefined);
    }
  }

  private async observe(): Promise<void> {
    await this.refreshLeader();
    const w = await this.client.watch().prefix(this.electionPrefix).create();
    this.observer = w;
    const refresh = (): void => void this.refreshLeader().catch(() => undefined);
    w.on('put', refresh);
    w.on('delete', refresh);
    w.on('connected', refresh);
  }

  private async refreshLeader(): Promise<void> {
    const r = await this.client.getAll().prefix(this.electionPrefix).sort('Create', 'Ascend').limit(1).exec();
    const kv: IKeyValue | undefined = r.kvs[0];
    let next: LeaderView | undefined;
    if (kv !== undefined) {
      try {
        const info = JSON.parse(kv.value.toString()) as MemberInfo;
        next = { ...info, generation: BigInt(kv.create_revision) };
      } catch {
        next = undefined;
      }
    }
    const prev = this.leaderValue;
    if (prev?.id === next?.id && prev?.generation === next?.generation) return;
    if (prev !== undefined && next !== undefined) this.failovers += 1;
    this.leaderValue = next;
    this.emit('leader', next);
  }
}
