import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createHosts, forgetPort, setLocation, type HostState } from './hosts.ts';

/** What perSwitch must say: a count of byMac by switch, switches with no host absent. */
function recount(s: HostState): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const e of s.byMac.values()) out.set(e.at.dpid, (out.get(e.at.dpid) ?? 0) + 1);
  return out;
}

const sorted = (m: ReadonlyMap<bigint, number>): [bigint, number][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

test('hosts per switch stay a count of the hosts by switch through adds, moves and forgotten ports', () => {
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
        assert.deepEqual(sorted(s.perSwitch), sorted(recount(s)));
      });
    }),
  );
});
