import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isScoreError } from '../errors/errors.ts';
import { ETHERTYPE, encodeEthernet, type EthernetFrame } from './ethernet.ts';
import { parseFrame } from './frame.ts';
import { encodeIcmp } from './icmp.ts';
import { IP_PROTOCOL, encodeIpv4, type Ipv4Fields } from './ipv4.ts';
import { TCP_FLAG, encodeTcp } from './tcp.ts';
import { encodeUdp } from './udp.ts';
import * as arb from './arbitraries.testing.ts';

const malformed = (e: unknown): boolean => isScoreError(e, 'PACKET_MALFORMED');

const IP: Ipv4Fields = {
  dscp: 0,
  ecn: 0,
  identification: 1,
  reservedFlag: false,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: IP_PROTOCOL.TCP,
  src: '10.0.0.1',
  dst: '10.0.0.6',
  options: new Uint8Array(0),
  payload: new Uint8Array(0),
};

function frame(ipv4: Ipv4Fields, vlans: EthernetFrame['vlans'] = []): Uint8Array {
  return encodeEthernet({ dst: '00:00:00:00:00:06', src: '00:00:00:00:00:01', vlans, ethertype: ETHERTYPE.IPV4, payload: encodeIpv4(ipv4) });
}

// The paper's traffic: 50-byte TCP packets (20 IP + 20 TCP + 10 data), as nping sends them.
const TCP_BYTES = encodeTcp(
  { srcPort: 40000, dstPort: 5001, seq: 1, ack: 0, flags: TCP_FLAG.SYN, window: 1480, checksum: 0, urgentPointer: 0, options: new Uint8Array(0), payload: new Uint8Array(10) },
  { src: IP.src, dst: IP.dst },
);

describe('parseFrame', () => {
  it('decodes Ethernet -> VLAN -> IPv4 -> TCP', () => {
    const f = parseFrame(frame({ ...IP, payload: TCP_BYTES }, [{ tpid: 0x8100, pcp: 0, dei: false, vid: 10 }]));
    assert.equal(f.eth.vlans[0]?.vid, 10);
    assert.equal(f.net.type, 'ipv4');
    if (f.net.type !== 'ipv4') return;
    assert.equal(f.net.ipv4.checksumValid, true);
    assert.equal(f.net.ipv4.src, '10.0.0.1');
    assert.equal(f.net.transport.type, 'tcp');
    if (f.net.transport.type !== 'tcp') return;
    assert.equal(f.net.transport.tcp.dstPort, 5001);
    assert.equal(f.net.transport.tcp.flags, TCP_FLAG.SYN);
    assert.equal(f.net.transport.tcp.payload.length, 10);
  });

  it('decodes UDP and ICMP, and leaves other protocols and fragments undecoded', () => {
    const udp = encodeUdp({ srcPort: 68, dstPort: 67, checksum: 0, payload: Uint8Array.of(1) });
    const kinds = [
      [{ ...IP, protocol: IP_PROTOCOL.UDP, payload: udp }, 'udp'],
      [{ ...IP, protocol: IP_PROTOCOL.ICMP, payload: encodeIcmp({ kind: 'echo-request', code: 0, identifier: 1, sequence: 1, data: new Uint8Array(0) }) }, 'icmp'],
      [{ ...IP, protocol: 47, payload: Uint8Array.of(1, 2, 3) }, 'other'],
      // a fragment's payload is not a transport header even when it is long enough to look like one
      [{ ...IP, moreFragments: true, payload: TCP_BYTES }, 'fragment'],
      [{ ...IP, fragmentOffset: 3, payload: Uint8Array.of(0xff) }, 'fragment'],
    ] as const;
    for (const [ip, type] of kinds) {
      const f = parseFrame(frame(ip));
      assert.ok(f.net.type === 'ipv4', type);
      assert.equal(f.net.transport.type, type);
    }
    const other = parseFrame(frame({ ...IP, protocol: 47 }));
    assert.deepEqual(other.net.type === 'ipv4' && other.net.transport, { type: 'other', protocol: 47 });
  });

  it('leaves unknown EtherTypes and 802.3 LLC frames at the Ethernet layer', () => {
    const ipv6 = parseFrame(arb.hex('333300000001 000000000001 86dd 6000000000003afffe80'));
    assert.deepEqual(ipv6.net, { type: 'other', ethertype: 0x86dd });
    // an STP BPDU: 802.3 length 0x0026, LLC 42 42 03
    const stp = parseFrame(arb.hex('0180c2000000 000000000001 0026 424203 0000 00'));
    assert.deepEqual(stp.net, { type: 'other', ethertype: 0x26 });
    assert.deepEqual(stp.eth.payload, arb.hex('424203000000'));
  });

  it('still decodes an IPv4 packet whose header checksum is wrong, and flags it', () => {
    const bytes = frame({ ...IP, payload: TCP_BYTES });
    bytes[14 + 8] = 1; // TTL changed without fixing the checksum
    const f = parseFrame(bytes);
    assert.ok(f.net.type === 'ipv4', 'f.net.type === \'ipv4\'');
    assert.equal(f.net.ipv4.checksumValid, false);
    assert.equal(f.net.transport.type, 'tcp');
  });

  it('reports a malformed inner layer as PACKET_MALFORMED for the whole frame', () => {
    const cases: Record<string, Uint8Array> = {
      'short Ethernet': new Uint8Array(10),
      'TCP header cut': frame({ ...IP, payload: TCP_BYTES.subarray(0, 12) }),
      'UDP length wrong': frame({ ...IP, protocol: IP_PROTOCOL.UDP, payload: Uint8Array.of(0, 1, 0, 2, 0, 99, 0, 0) }),
      'ICMP echo cut': frame({ ...IP, protocol: IP_PROTOCOL.ICMP, payload: Uint8Array.of(8, 0, 0, 0, 0) }),
      'IPv4 cut (packet-in truncated at miss_send_len)': frame({ ...IP, payload: TCP_BYTES }).subarray(0, 40),
      'ARP cut': arb.hex('ffffffffffff 000000000001 0806 0001 0800 0604 0001'),
      'RARP cut': arb.hex('ffffffffffff 000000000001 8035 0001 0800 0604 0003'),
      'LLDP cut': arb.hex('0180c200000e 000000000001 88cc 0207 04'),
    };
    for (const [name, bytes] of Object.entries(cases)) assert.throws(() => parseFrame(bytes), malformed, name);
  });

  it('answers non-byte input with PACKET_MALFORMED rather than a TypeError', () => {
    for (const input of [undefined, null, 'ffff', [1, 2, 3], new ArrayBuffer(20), 42]) {
      assert.throws(() => parseFrame(input as unknown as Uint8Array), malformed, typeof input);
    }
  });

  it('decodes every layer of any composed TCP, UDP or ICMP frame back to what was encoded', () => {
    const transport = fc.oneof(
      arb.tcp.map((t) => ({ protocol: IP_PROTOCOL.TCP, payload: encodeTcp(t), expect: { type: 'tcp', tcp: t } })),
      arb.udp.map((u) => ({ protocol: IP_PROTOCOL.UDP, payload: encodeUdp(u), expect: { type: 'udp', udp: u } })),
      arb.icmp.map((m) => {
        const payload = encodeIcmp(m);
        return { protocol: IP_PROTOCOL.ICMP, payload, expect: { type: 'icmp', icmp: { ...m, checksum: (payload[2]! << 8) | payload[3]!, checksumValid: true } } };
      }),
    );
    fc.assert(
      fc.property(arb.ethernet, arb.ipv4Fields, transport, (eth, ip, l4) => {
        const ipv4: Ipv4Fields = { ...ip, moreFragments: false, fragmentOffset: 0, protocol: l4.protocol, payload: l4.payload };
        const ipBytes = encodeIpv4(ipv4);
        const ethFrame = { ...eth, ethertype: ETHERTYPE.IPV4, payload: ipBytes };
        const f = parseFrame(encodeEthernet(ethFrame));
        assert.deepEqual(f.eth, ethFrame);
        assert.ok(f.net.type === 'ipv4', 'f.net.type === \'ipv4\'');
        const { checksum: _c, checksumValid, ...fields } = f.net.ipv4;
        assert.deepEqual(fields, ipv4);
        assert.equal(checksumValid, true);
        assert.deepEqual(f.net.transport, l4.expect);
      }),
    );
  });
});
