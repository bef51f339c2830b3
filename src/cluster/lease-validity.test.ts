import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseValidity } from './lease-validity.ts';

test('lease validity: a reply renews from the send it answers, not from the latest send', () => {
  const v = new LeaseValidity();
  v.granted(0, 2);
  assert.equal(v.validUntil, 2000);
  // keepalives every 667 ms; the first reply arrives after the second send (a slow return path)
  v.fired(667);
  v.fired(1334);
  v.answered(2);
  assert.equal(v.validUntil, 2667, 'from the first send (1334 + 2000 = 3334 would outlive the lease)');
  v.answered(2);
  assert.equal(v.validUntil, 3334);
  assert.equal(v.lastSentAt, 1334);
});

test('lease validity: a reset stream answers none of its sends; a reply without a send or with TTL 0 renews nothing', () => {
  const v = new LeaseValidity();
  v.granted(0, 2);
  v.fired(500);
  v.streamReset();
  v.answered(2);
  assert.equal(v.validUntil, 2000, 'an unmatched reply does not renew');
  v.fired(900);
  v.answered(0);
  assert.equal(v.validUntil, 2000, 'TTL 0: the lease is gone, nothing renewed');
  v.fired(1000);
  v.answered(2);
  assert.equal(v.validUntil, 3000);
  // never backwards
  v.granted(0, 1);
  assert.equal(v.validUntil, 3000);
});
