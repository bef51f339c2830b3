// Controller roles on one connection (OpenFlow 1.3 sections 6.3.5 and 7.3.9), against a fake
// switch speaking real bytes over loopback TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isScoreError } from '../../errors/errors.ts';
import { OFPBRC, OFPCR, OFPET, OFPRRFC } from '../constants.ts';
import { encodeMessage } from '../encode.ts';
import { FakeSwitch, startPlane, until } from './fake-switch.testing.ts';
import type { ControllerRole } from './connection.ts';

const T = { timeout: 20_000 };

const flowMod = {
  type: 'FLOW_MOD' as const,
  xid: 0,
  cookie: 7n,
  cookieMask: 0n,
  tableId: 0,
  command: 0,
  idleTimeout: 0,
  hardTimeout: 0,
  priority: 5,
  bufferId: 0xffffffff,
  outPort: 0xffffffff,
  outGroup: 0xffffffff,
  flags: 0,
  match: [],
  instructions: [],
};

test('ROLE_REQUEST MASTER: the reply sets role and generation; a later SLAVE reply blocks writes locally', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x11n);
  try {
    await tp.channel(0x11n);
    const conn = tp.plane.connection(0x11n);
    assert.ok(conn !== undefined, 'conn !== undefined');
    assert.equal(conn.role, 'EQUAL');
    const roles: [ControllerRole, bigint | undefined][] = [];
    conn.on('role', (r, g) => roles.push([r, g]));

    const asked = conn.requestRole('MASTER', 42n);
    const rq = await sw.next('ROLE_REQUEST');
    assert.equal(rq.role, OFPCR.ROLE_MASTER);
    assert.equal(rq.generationId, 42n);
    sw.send({ type: 'ROLE_REPLY', xid: rq.xid, role: OFPCR.ROLE_MASTER, generationId: 42n });
    assert.deepEqual(await asked, { role: 'MASTER', generationId: 42n });
    assert.equal(conn.role, 'MASTER');
    conn.post(flowMod);
    await sw.next('FLOW_MOD');

    const slave = conn.requestRole('SLAVE', 43n);
    const rq2 = await sw.next('ROLE_REQUEST');
    sw.send({ type: 'ROLE_REPLY', xid: rq2.xid, role: OFPCR.ROLE_SLAVE, generationId: 43n });
    await slave;
    assert.equal(conn.role, 'SLAVE');
    assert.throws(() => conn.post(flowMod), (e: unknown) => isScoreError(e, 'OF_NOT_MASTER'));
    assert.throws(
      () => conn.postAll([{ msg: { type: 'PACKET_OUT', xid: 0, bufferId: 0xffffffff, inPort: 0xfffffffd, actions: [], data: new Uint8Array(0) }, what: 'po' }]),
      (e: unknown) => isScoreError(e, 'OF_NOT_MASTER'),
    );
    // a slave may still read: statistics go out
    const stats = conn.multipart({ kind: 'PORT_STATS', portNo: 0xffffffff });
    const mr = await sw.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_STATS');
    sw.send({ type: 'MULTIPART_REPLY', xid: mr.xid, flags: 0, body: { kind: 'PORT_STATS', ports: [] } });
    await stats;
    assert.deepEqual(roles, [
      ['MASTER', 42n],
      ['SLAVE', 43n],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sw.inbox.filter((m) => m.type === 'FLOW_MOD' || m.type === 'PACKET_OUT').length, 0, 'nothing written as SLAVE');
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a stale generation id is refused with OF_ROLE_STALE and leaves us SLAVE', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x12n);
  try {
    await tp.channel(0x12n);
    const conn = tp.plane.connection(0x12n);
    assert.ok(conn !== undefined, 'conn !== undefined');
    const asked = conn.requestRole('MASTER', 3n);
    const rq = await sw.next('ROLE_REQUEST');
    sw.send({ type: 'ERROR', xid: rq.xid, errType: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.STALE, data: encodeMessage(rq).slice(0, 64) });
    await assert.rejects(asked, (e: unknown) => isScoreError(e, 'OF_ROLE_STALE') && e.details.generationId === '3');
    assert.equal(conn.role, 'SLAVE');
    assert.throws(() => conn.post(flowMod), (e: unknown) => isScoreError(e, 'OF_NOT_MASTER'));
  } finally {
    sw.close();
    await tp.stop();
  }
});

test('a demoted master learns it from the switch refusing a write with IS_SLAVE', T, async () => {
  const tp = await startPlane();
  const sw = await FakeSwitch.up(tp.port, 0x13n);
  try {
    await tp.channel(0x13n);
    const conn = tp.plane.connection(0x13n);
    assert.ok(conn !== undefined, 'conn !== undefined');
    const asked = conn.requestRole('MASTER', 9n);
    const rq = await sw.next('ROLE_REQUEST');
    sw.send({ type: 'ROLE_REPLY', xid: rq.xid, role: OFPCR.ROLE_MASTER, generationId: 9n });
    await asked;
    const xid = conn.post(flowMod);
    const fm = await sw.next('FLOW_MOD');
    assert.equal(fm.xid, xid);
    // another controller took over with a newer generation: the switch refuses our flow-mod
    sw.send({ type: 'ERROR', xid, errType: OFPET.BAD_REQUEST, code: OFPBRC.IS_SLAVE, data: encodeMessage(fm).slice(0, 64) });
    await until(() => conn.role === 'SLAVE', 'role SLAVE after IS_SLAVE');
    assert.throws(() => conn.post(flowMod), (e: unknown) => isScoreError(e, 'OF_NOT_MASTER'));
    assert.ok(tp.logs.some((l) => l.includes('IS_SLAVE')), tp.logs.join('\n'));
  } finally {
    sw.close();
    await tp.stop();
  }
});
