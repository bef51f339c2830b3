import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildEthernet, encodeIpv4, encodeUdp, ETHERTYPE, IP_PROTOCOL, parseFrame, type ParsedFrame } from '../packet/index.ts';
import { portKey } from './commands.ts';
import { createHosts, forgetPort, HOST_REFUSAL_REPEAT_MS, hostsAtPort, learn, portsWithHosts, refusalReports, setLocation, type HostState } from './hosts.ts';

/** What perSwitch must say: a count of byMac by switch, switches with no host absent. */
function recount(s: HostState): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const e of s.byMac.values()) out.set(e.at.dpid, (out.get(e.at.dpid) ?? 0) + 1);
  return out;
}

const sorted = (m: ReadonlyMap<bigint, number>): [bigint, number][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

test('hosts per switch and per port stay counts of the hosts through adds, moves and forgotten ports', () => {
  const ref = fc.record({ dpid: fc.bigInt({ min: 1n, max: 4n }), port: fc.integer({ min: 1, max: 3 }) });
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), mac: fc.integer({ min: 0, max: 7 }), at: ref }),
    fc.record({ kind: fc.constant('forget' as const), at: ref }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const s = createHosts();
      ops.forEach((o, i) => {
        if (o.kind === 'set') setLocation(s, `02:00:00:00:00:0${o.mac}`, o.at, i, 'packet');
        else forgetPort(s, o.at);
        assert.deepEqual(sorted(s.perSwitch), sorted(recount(s)), `per-switch counts after op ${i}`);
        const byPort = new Map<string, number>();
        for (const e of s.byMac.values()) byPort.set(portKey(e.at), (byPort.get(portKey(e.at)) ?? 0) + 1);
        const held = [...s.perPort].flatMap(([dpid, ports]) => [...ports].map(([port, h]) => [portKey({ dpid, port }), h.n] as const));
        assert.deepEqual(held.sort(), [...byPort].sort(), `per-port counts after op ${i}`);
        assert.ok([...s.perPort.values()].every((ports) => ports.size > 0), `a switch with no host on any port is absent after op ${i}`);
        for (const e of s.byMac.values()) assert.equal(e.at, s.perPort.get(e.at.dpid)?.get(e.at.port)?.at, `host ${e.mac} shares its port's PortRef after op ${i}`);
      });
    }),
  );
});

/** a frame from `mac` as the controller parses it: UDP over IPv4, so an address is learned with it */
function frameFrom(mac: string, ip = '10.0.0.9'): ParsedFrame {
  const addr = { src: ip, dst: '10.0.0.1' };
  const udp = encodeUdp({ srcPort: 4000, dstPort: 5000, checksum: 0, payload: new Uint8Array(18) }, addr);
  const packet = encodeIpv4({ dscp: 0, ecn: 0, identification: 1, reservedFlag: false, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTOCOL.UDP, ...addr, options: new Uint8Array(0), payload: udp });
  return parseFrame(buildEthernet({ src: mac, dst: '02:00:00:00:00:ff' }, ETHERTYPE.IPV4, packet));
}

test('a port holding maxPerPort hosts learns no further unknown source: refused, told at once, then once a minute with the count', () => {
  const s = createHosts(2);
  const p1 = { dpid: 1n, port: 1 };
  const p2 = { dpid: 1n, port: 2 };
  const anyPort = (): boolean => true;
  const mac = (i: number): string => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`;
  assert.equal(learn(s, frameFrom(mac(1)), p1, 0, anyPort)[0]?.type, 'host-added');
  assert.equal(learn(s, frameFrom(mac(2)), p1, 1, anyPort)[0]?.type, 'host-added');
  const first = learn(s, frameFrom(mac(3)), p1, 2, anyPort);
  assert.deepEqual(first, [{ type: 'host-refused', mac: mac(3), at: p1, limit: 2, count: 1, quiet: false }]);
  const second = learn(s, frameFrom(mac(4)), p1, 3, anyPort);
  assert.deepEqual(second, [{ type: 'host-refused', mac: mac(4), at: p1, limit: 2, count: 1, quiet: true }]);
  assert.equal(learn(s, frameFrom(mac(3)), p1, 4, anyPort)[0]?.type, 'host-refused', 'a refused source stays refused');
  assert.equal(s.byMac.size, 2, 'nothing refused was learned');
  assert.equal(s.byMac.has(mac(3)), false, 'the refused source is unknown');
  // the hosts already there keep speaking (and keep their place)
  assert.deepEqual(learn(s, frameFrom(mac(1), '10.0.0.7'), p1, 5, anyPort), []);
  assert.equal(s.byMac.get(mac(1))?.ip, '10.0.0.7', 'a known host speaking at a full port is still learned from');
  // a host known elsewhere moving in (a migrated VM's RARP, or its first frame) grows no table: learned
  assert.equal(learn(s, frameFrom(mac(9)), p2, 6, anyPort)[0]?.type, 'host-added');
  assert.equal(learn(s, frameFrom(mac(9)), p1, 7, anyPort)[0]?.type, 'host-moved', 'a known host moves into a full port');
  assert.equal(hostsAtPort(s, p1), 3, 'the port now holds one over its limit, from a move');
  assert.equal(learn(s, frameFrom(mac(9)), p2, 8, anyPort)[0]?.type, 'host-moved');
  // nothing is told before the minute is over; then the quiet ones are, once
  assert.deepEqual(refusalReports(s, 2 + HOST_REFUSAL_REPEAT_MS - 1), [], 'not yet');
  assert.deepEqual(refusalReports(s, 2 + HOST_REFUSAL_REPEAT_MS), [{ type: 'host-refusals', at: p1, limit: 2, count: 2, lastMac: mac(3) }]);
  assert.deepEqual(refusalReports(s, 2 + 2 * HOST_REFUSAL_REPEAT_MS - 1), [], 'told once');
  // a refusal within the minute after that summary is quiet; one after it, with nothing told between, is told with the count
  const quiet = learn(s, frameFrom(mac(5)), p1, 3 + HOST_REFUSAL_REPEAT_MS, anyPort);
  assert.equal(quiet[0]?.type === 'host-refused' && quiet[0].quiet, true, 'quiet within a minute of the summary');
  const told = learn(s, frameFrom(mac(6)), p1, 2 + 2 * HOST_REFUSAL_REPEAT_MS, anyPort);
  assert.deepEqual(told, [{ type: 'host-refused', mac: mac(6), at: p1, limit: 2, count: 2, quiet: false }]);
  // a port with nothing to tell for a minute is forgotten: its next refusal is told at once
  assert.deepEqual(refusalReports(s, 2 + 3 * HOST_REFUSAL_REPEAT_MS), []);
  assert.equal(s.refusals.size, 0, 'nothing kept for a port with nothing to tell');
  // a host leaving the port makes room: the next new source is learned
  assert.equal(learn(s, frameFrom(mac(1)), p2, 200_000, anyPort)[0]?.type, 'host-moved');
  assert.equal(learn(s, frameFrom(mac(7)), p1, 200_001, anyPort)[0]?.type, 'host-added');
  // the port going down forgets its hosts: room for the limit again
  forgetPort(s, p1);
  assert.equal(hostsAtPort(s, p1), 0, 'a forgotten port holds no host');
  assert.deepEqual(portsWithHosts(s, 1n), [2], 'only port 2 still has hosts');
  assert.equal(learn(s, frameFrom(mac(8)), p1, 200_002, anyPort)[0]?.type, 'host-added');
  // group addresses are never hosts, full port or not
  assert.deepEqual(learn(s, frameFrom('01:00:5e:00:00:01'), p1, 200_003, anyPort), []);
});

test('the host limit: Infinity means none, below 1 is refused', () => {
  const s = createHosts(Number.POSITIVE_INFINITY);
  for (let i = 0; i < 300; i++) learn(s, frameFrom(`02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`), { dpid: 1n, port: 1 }, i, () => true);
  assert.equal(s.byMac.size, 300);
  assert.throws(() => createHosts(0), RangeError);
  assert.throws(() => createHosts(Number.NaN), RangeError);
});
