/**
 * Until when an etcd lease is surely alive, from its keepalive stream (pure bookkeeping; the
 * member feeds it etcd3's lease events). A keepalive reply renews the lease from the moment its
 * request was sent: the lease is alive until that send + TTL. etcd3 sends a keepalive every
 * TTL/3 without matching replies to requests, so the latest send is not the answered one (with a
 * slow return path it can be ~1 s later: more than a leader's safety margin). Replies on one
 * stream come in request order, so each reply takes the oldest unanswered send; a new or broken
 * stream answers none of the old one's sends.
 */
export class LeaseValidity {
  private readonly unanswered: number[] = [];
  /** ms on the caller's clock (monotonic); 0 until granted */
  validUntil = 0;
  /** the latest keepalive sent, ms (for messages) */
  lastSentAt = 0;

  /** the lease was granted by a request sent at `sentAt` */
  granted(sentAt: number, ttlSec: number): void {
    this.lastSentAt = Math.max(this.lastSentAt, sentAt);
    this.validUntil = Math.max(this.validUntil, sentAt + ttlSec * 1000);
  }

  /** a keepalive request was sent at `at` */
  fired(at: number): void {
    this.lastSentAt = at;
    this.unanswered.push(at);
  }

  /** a keepalive stream was (re)opened, or failed: no reply will answer the earlier sends */
  streamReset(): void {
    this.unanswered.length = 0;
  }

  /** a reply with the lease's remaining TTL (s); a TTL <= 0 renews nothing */
  answered(ttlSec: number): void {
    const sentAt = this.unanswered.shift();
    if (sentAt !== undefined && ttlSec > 0) this.validUntil = Math.max(this.validUntil, sentAt + ttlSec * 1000);
  }
}
