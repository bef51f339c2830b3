// The role-aware data plane against fake switches (real OpenFlow bytes over loopback) and a
// scripted cluster member (the etcd side is covered by member.system.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { isScoreError } from '../errors/errors.ts';
import { OFPCR, OFPET, OFPRRFC } from '../openflow/constants.ts';
import { openflowDataPlane, silentLog } from '../openflow/connection/index.ts';
import { FakeSwitch, until } from '../openflow/connection/fake-switch.testing.ts';
import type { DataPlaneEvents, SwitchChannel } from '../runtime/dataplane.ts';
import type { ClusterMember, MemberRole, LeaderView } from './member.ts';
import { clusterDataPlane, roleRetryDelay } from './role-plane.ts';

class ScriptedMember extends EventEmitter {
  role: MemberRole = 'follower';
  generation: bigint | undefined;
  leader: LeaderView | undefined = { id: 'other', generation: 10n };
  elect(g: bigint): void {
    this.role = 'leader';
    this.generation = g;
    this.leader = { id: 'me', generation: g };
    this.emit('elected', g);
  }
  /** false: the lease is not surely alive (the member's 100 ms check has not stepped it down yet) */
  leaseAlive = true;
  fence(): { key: string; createRevision: string } | undefined {
    return this.role === 'leader' && this.leaseAlive ? { key: 'k', createRevision: '1' } : undefined;
  }
  stepDown(): void {
    this.role = 'stepped-down';
    this.emit('stepped-down', 'test');
  }
}

/** Answers every ROLE_REQUEST with the role asked for. */
function answerRoles(sw: FakeSwitch): { asked: { role: number; generationId: bigint }[]; stop(): void } {
  const asked: { role: number; generationId: bigint }[] = [];
  let on = true;
  const loop = async (): Promise<void> => {
    while (on) {
      try {
        const rq = await sw.next('ROLE_REQUEST', 200);
        asked.push({ role: rq.role, generationId: rq.generationId });
        sw.send({ type: 'ROLE_REPLY', xid: rq.xid, role: rq.role, generationId: rq.generationId });
      } catch {
        // nothing asked in this interval
      }
    }
  };
  void loop();
  return { asked, stop: () => (on = false) };
}

test('follower: SLAVE with the leader\'s generation, runtime sees nothing; elected: MASTER, then the runtime gets the switch; stepped down: switch withdrawn, writes refused', { timeout: 30_000 }, async () => {
  const member = new ScriptedMember();
  const plane = clusterDataPlane(openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog }), member as unknown as ClusterMember, silentLog);
  const seen: string[] = [];
  let channel: SwitchChannel | undefined;
  const events: DataPlaneEvents = {
    switchUp: (ch) => {
      channel = ch;
      seen.push(`up ${ch.dpid}`);
    },
    switchDown: (d) => seen.push(`down ${d}`),
    packetIn: (d) => seen.push(`packet-in ${d}`),
    portStatus: (d) => seen.push(`port-status ${d}`),
    flowRemoved: (d) => seen.push(`flow-removed ${d}`),
    flowRejected: (d) => seen.push(`flow-rejected ${d}`),
    flowsAccepted: (d) => seen.push(`flows-accepted ${d}`),
  };
  await plane.start(events);
  const sw = await FakeSwitch.up(plane.address().port, 0x21n);
  const roles = answerRoles(sw);
  try {
    await until(() => roles.asked.length >= 1, 'SLAVE request');
    assert.deepEqual(roles.asked[0], { role: OFPCR.ROLE_SLAVE, generationId: 10n });
    await until(() => plane.switchesView()[0]?.role === 'SLAVE', 'SLAVE confirmed');
    sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: 0, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data: new Uint8Array(60) });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.join(','), '', 'a standby runtime sees no switch and no packet');

    member.elect(12n);
    await until(() => seen.includes('up 33'), 'switch handed to the runtime');
    assert.deepEqual(roles.asked[1], { role: OFPCR.ROLE_MASTER, generationId: 12n });
    assert.equal(plane.switchesView()[0]?.role, 'MASTER');
    assert.equal(plane.switchesView()[0]?.active, true);
    sw.send({ type: 'PACKET_IN', xid: 0, bufferId: 0xffffffff, totalLen: 0, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data: new Uint8Array(60) });
    await until(() => seen.includes('packet-in 33'), 'packet-in reaches the leader\'s runtime');
    channel?.send([{ kind: 'flow-delete', dpid: 0x21n, cookie: 0n, cookieMask: 0n }]);
    await sw.next('FLOW_MOD');
    // still leader by role, but the lease ran out before the member's check noticed: no write
    member.leaseAlive = false;
    assert.throws(() => channel?.send([{ kind: 'flow-delete', dpid: 0x21n, cookie: 0n, cookieMask: 0n }]), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER') && /lease is not surely alive/.test(e.message));
    member.leaseAlive = true;

    member.stepDown();
    await until(() => seen.includes('down 33'), 'switch withdrawn from the runtime');
    assert.throws(() => channel?.send([{ kind: 'flow-delete', dpid: 0x21n, cookie: 0n, cookieMask: 0n }]), (e: unknown) => isScoreError(e, 'CLUSTER_NOT_LEADER'));
    await until(() => roles.asked.length >= 3, 'SLAVE asked after stepping down');
    assert.equal(roles.asked[2]?.role, OFPCR.ROLE_SLAVE);
  } finally {
    roles.stop();
    sw.close();
    await plane.stop();
  }
});

test('roleRetryDelay: bounded, growing waits', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 0].map((a) => roleRetryDelay(a)), [100, 200, 400, 800, 1600, null, null]);
  assert.equal(roleRetryDelay(1, [7]), 7);
  assert.equal(roleRetryDelay(2, [7]), null);
});

// The member's view of the leader comes from its own watch, which may land before or after
// 'elected': the retry must not depend on which.
for (const leaderViewLate of [false, true]) test(`a ROLE_REQUEST MASTER the switch refused (not as stale) is sent again, and the switch is handed over then${leaderViewLate ? ' (the leader view updated after elected)' : ''}`, { timeout: 30_000 }, async () => {
  const member = new ScriptedMember();
  const plane = clusterDataPlane(openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog }), member as unknown as ClusterMember, silentLog, { roleRetryDelaysMs: [50, 50] });
  const seen: string[] = [];
  const handedOver: bigint[] = [];
  plane.onHandover((d) => handedOver.push(d));
  const events: DataPlaneEvents = {
    switchUp: (ch) => seen.push(`up ${ch.dpid}`),
    switchDown: (d) => seen.push(`down ${d}`),
    packetIn: () => undefined,
    portStatus: () => undefined,
    flowRemoved: () => undefined,
    flowRejected: () => undefined,
    flowsAccepted: () => undefined,
  };
  await plane.start(events);
  const sw = await FakeSwitch.up(plane.address().port, 0x22n);
  const asked: number[] = [];
  let on = true;
  // the first MASTER request is refused (OFPRRFC_UNSUP), every other request answered
  void (async () => {
    let refused = false;
    while (on) {
      try {
        const rq = await sw.next('ROLE_REQUEST', 200);
        asked.push(rq.role);
        if (rq.role === OFPCR.ROLE_MASTER && !refused) {
          refused = true;
          sw.send({ type: 'ERROR', xid: rq.xid, errType: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.UNSUP, data: new Uint8Array(24) });
        } else sw.send({ type: 'ROLE_REPLY', xid: rq.xid, role: rq.role, generationId: rq.generationId });
      } catch {
        // nothing asked in this interval
      }
    }
  })();
  try {
    await until(() => plane.switchesView()[0]?.role === 'SLAVE', 'SLAVE confirmed');
    if (leaderViewLate) {
      member.role = 'leader';
      member.generation = 12n;
      member.emit('elected', 12n);
      setTimeout(() => (member.leader = { id: 'me', generation: 12n }), 10);
    } else {
      member.elect(12n);
    }
    await until(() => seen.includes('up 34'), 'switch handed to the runtime after the retry');
    assert.deepEqual(asked, [OFPCR.ROLE_SLAVE, OFPCR.ROLE_MASTER, OFPCR.ROLE_MASTER]);
    assert.deepEqual(handedOver, [0x22n]);
    assert.equal(plane.switchesView()[0]?.role, 'MASTER');
  } finally {
    on = false;
    sw.close();
    await plane.stop();
  }
});

test('role requests are retried a bounded number of times, then given up until the switch reconnects', { timeout: 30_000 }, async () => {
  const member = new ScriptedMember();
  const plane = clusterDataPlane(openflowDataPlane({ port: 0, host: '127.0.0.1', log: silentLog }), member as unknown as ClusterMember, silentLog, { roleRetryDelaysMs: [30, 30] });
  await plane.start({ switchUp: () => undefined, switchDown: () => undefined, packetIn: () => undefined, portStatus: () => undefined, flowRemoved: () => undefined, flowRejected: () => undefined, flowsAccepted: () => undefined });
  const sw = await FakeSwitch.up(plane.address().port, 0x23n);
  const asked: number[] = [];
  let on = true;
  void (async () => {
    while (on) {
      try {
        const rq = await sw.next('ROLE_REQUEST', 200);
        asked.push(rq.role);
        sw.send({ type: 'ERROR', xid: rq.xid, errType: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.BAD_ROLE, data: new Uint8Array(24) });
      } catch {
        // nothing asked in this interval
      }
    }
  })();
  try {
    await until(() => asked.length >= 3, 'the first request and two retries');
    await plane.settled();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(asked.length, 3, 'no retry beyond the bound');
    assert.notEqual(plane.switchesView()[0]?.role, 'SLAVE');
  } finally {
    on = false;
    sw.close();
    await plane.stop();
  }
});
