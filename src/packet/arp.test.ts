import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import {
  ARP_OP,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildRarpAnnouncement,
  decodeArp,
  encodeArp,
  isGratuitousArp,
  isRarpAnnouncement,
} from './arp.ts';
import { announcesMac, findAnnouncement, parseFrame } from './frame.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');

// who-has 10.0.0.6 tell 10.0.0.1, as tcpdump -xx prints it from vm1 (padding not yet added).
const ARP_REQUEST = arb.hex(`
  ffff ffff ffff 0000 0000 0001 0806
  0001 0800 0604 0001 0000 0000 0001 0a00
  0001 0000 0000 0000 0a00 0006`);

// QEMU's self-announcement for a VM with QEMU's default MAC prefix: RARP opcode 3, sender and
// target hardware = VM MAC, both IPs 0.0.0.0, zero-padded to 60 bytes.
const QEMU_RARP = arb.hex(`
  ffff ffff ffff 5254 0012 3456 8035
  0001 0800 0604 0003 5254 0012 3456 0000
  0000 5254 0012 3456 0000 0000
  0000 0000 0000 0000 0000 0000 0000 0000 0000`);

describe('ARP', () => {
  it('decodes a captured request', () => {
    const f = parseFrame(ARP_REQUEST);
    assert.equal(f.net.type, 'arp');
    assert.deepEqual(f.net.type === 'arp' && f.net.arp, {
      op: ARP_OP.REQUEST,
      senderMac: '00:00:00:00:00:01',
      senderIp: '10.0.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.6',
    });
  });

  it('builds exactly the captured request', () => {
    assert.deepEqual(buildArpRequest({ senderMac: '00:00:00:00:00:01', senderIp: '10.0.0.1', targetIp: '10.0.0.6' }), ARP_REQUEST);
  });

  it('ignores Ethernet padding after the 28 bytes', () => {
    const padded = Uint8Array.of(...ARP_REQUEST, ...new Uint8Array(18).fill(0xaa));
    assert.deepEqual(parseFrame(padded).net, parseFrame(ARP_REQUEST).net);
  });

  it('builds a unicast reply', () => {
    const frame = buildArpReply({ senderMac: '00:00:00:00:00:06', senderIp: '10.0.0.6', targetMac: '00:00:00:00:00:01', targetIp: '10.0.0.1' });
    const f = parseFrame(frame);
    assert.equal(f.eth.dst, '00:00:00:00:00:01');
    assert.equal(f.eth.src, '00:00:00:00:00:06');
    assert.deepEqual(f.net, {
      type: 'arp',
      arp: { op: 2, senderMac: '00:00:00:00:00:06', senderIp: '10.0.0.6', targetMac: '00:00:00:00:00:01', targetIp: '10.0.0.1' },
    });
  });

  it('round-trips any Ethernet/IPv4 ARP body', () => {
    fc.assert(fc.property(arb.arp, (a) => assert.deepEqual(decodeArp(encodeArp(a)), a)));
  });

  it('rejects other hardware or protocol types and short bodies', () => {
    const body = ARP_REQUEST.slice(14);
    assert.throws(() => decodeArp(body.slice(0, 27)), malformed);
    for (const [offset, value] of [[1, 6], [2, 0x86], [4, 8], [5, 16]] as const) {
      const bad = body.slice();
      bad[offset] = value;
      assert.throws(() => decodeArp(bad), malformed, `byte ${offset}`);
    }
  });

  it('detects gratuitous ARP (announcement and reply forms) but not probes or ordinary requests', () => {
    const announce = parseFrame(buildGratuitousArp({ mac: '00:00:00:00:00:17', ip: '10.0.0.23' }));
    assert.deepEqual(findAnnouncement(announce), { mac: '00:00:00:00:00:17', ip: '10.0.0.23', via: 'gratuitous-arp' });
    const base = { senderMac: '00:00:00:00:00:17', senderIp: '10.0.0.23', targetMac: '00:00:00:00:00:00', targetIp: '10.0.0.23' };
    assert.equal(isGratuitousArp({ op: ARP_OP.REPLY, ...base }), true);
    assert.equal(isGratuitousArp({ op: ARP_OP.REQUEST, ...base, senderIp: '0.0.0.0', targetIp: '0.0.0.0' }), false);
    assert.equal(isGratuitousArp({ op: ARP_OP.REQUEST, ...base, targetIp: '10.0.0.1' }), false);
    assert.equal(isGratuitousArp({ op: ARP_OP.RARP_REQUEST, ...base }), false);
    assert.equal(findAnnouncement(parseFrame(ARP_REQUEST)), undefined);
  });
});

describe('RARP (QEMU migration announcement)', () => {
  it('builds QEMU announce_self_create byte for byte', () => {
    assert.deepEqual(buildRarpAnnouncement('52:54:00:12:34:56'), QEMU_RARP);
    assert.deepEqual(buildRarpAnnouncement('52-54-00-12-34-56'), QEMU_RARP);
  });

  it('parses it as RARP and says which MAC it announces', () => {
    const f = parseFrame(QEMU_RARP);
    assert.equal(f.net.type, 'rarp');
    assert.deepEqual(findAnnouncement(f), { mac: '52:54:00:12:34:56', via: 'rarp' });
    assert.equal(announcesMac(f, '52:54:00:12:34:56'), true);
    assert.equal(announcesMac(f, '52:54:00:12:34:56'.toUpperCase()), true);
    assert.equal(announcesMac(f, '52:54:00:12:34:57'), false);
  });

  it('still announces through a VLAN tag', () => {
    const f = parseFrame(buildRarpAnnouncement('00:00:00:00:00:05', { vlans: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 10 }] }));
    assert.equal(f.eth.vlans[0]?.vid, 10);
    assert.equal(announcesMac(f, '00:00:00:00:00:05'), true);
  });

  it('does not treat RARP replies, or requests about another MAC, as announcements', () => {
    const rarp = { senderMac: '00:00:00:00:00:05', senderIp: '0.0.0.0', targetMac: '00:00:00:00:00:05', targetIp: '0.0.0.0' };
    assert.equal(isRarpAnnouncement({ op: ARP_OP.RARP_REQUEST, ...rarp }), true);
    assert.equal(isRarpAnnouncement({ op: ARP_OP.RARP_REPLY, ...rarp }), false);
    assert.equal(isRarpAnnouncement({ op: ARP_OP.RARP_REQUEST, ...rarp, targetMac: '00:00:00:00:00:06' }), false);
    // An ARP (0x0806) frame with opcode 3 is not a RARP frame.
    const wrongType = QEMU_RARP.slice();
    wrongType[12] = 0x08;
    wrongType[13] = 0x06;
    assert.equal(findAnnouncement(parseFrame(wrongType)), undefined);
  });

  it('announces exactly the MAC it was built for, for any MAC', () => {
    fc.assert(
      fc.property(arb.mac, arb.mac, (m, other) => {
        const f = parseFrame(buildRarpAnnouncement(m));
        assert.equal(f.eth.src, m);
        assert.equal(announcesMac(f, m), true);
        assert.equal(announcesMac(f, other), m === other);
      }),
    );
  });
});
