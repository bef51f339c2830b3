import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRng } from '../core/random.ts';
import { buildLldpProbe } from '../packet/index.ts';
import type { Dpid, SwitchCommand } from './commands.ts';
import type { DiscoveryState, ProbeShare, SwitchPortInfo } from './discovery.ts';
import { createDiscovery, inShare, portStatus, probes, switchDown, switchUp } from './discovery.ts';
import { authTlv } from './probe-auth.ts';

/**
 * Probes are built from a per-port template and switches found per share from cached lists
 * (discovery.ts probeFrame, shareMembers). The reference here is the code before: every probe
 * built whole by buildLldpProbe with authTlv, every switch tested with inShare.
 */
function reference(s: DiscoveryState, now: number, share?: ProbeShare, only?: Dpid, onlyPort?: number): SwitchCommand[] {
  const out: SwitchCommand[] = [];
  for (const [dpid, ports] of s.switches) {
    if (only !== undefined && dpid !== only) continue;
    if (share !== undefined && !inShare(dpid, share)) continue;
    for (const p of ports.values()) {
      if (!p.up || (onlyPort !== undefined && p.port !== onlyPort)) continue;
      const claim = { nonce: s.nonce, dpid, port: p.port };
      out.push({ kind: 'packet-out', dpid, ports: [p.port], frame: buildLldpProbe({ srcMac: p.hwAddr, ...claim, extraTlvs: [authTlv(s.secret, claim, now)] }) });
    }
  }
  return out;
}

/** `dpid:port` of a probe */
const where = (c: SwitchCommand): string => `${c.dpid}:${c.kind === 'packet-out' ? c.ports[0] : '?'}`;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
const macOf = (r: () => number): string => Array.from({ length: 6 }, () => hex2(Math.floor(r() * 256))).join(':');

function portsOf(r: () => number): SwitchPortInfo[] {
  const n = 1 + Math.floor(r() * 5);
  const used = new Set<number>();
  const out: SwitchPortInfo[] = [];
  while (out.length < n) {
    // small numbers and ones near the top of the physical range (0xffffff00 is OFPP_MAX)
    const port = r() < 0.8 ? 1 + Math.floor(r() * 48) : 0xffffff00 - Math.floor(r() * 4);
    if (used.has(port)) continue;
    used.add(port);
    out.push({ port, hwAddr: macOf(r), up: r() < 0.85, speedKbps: 10_000_000, name: `p${port}` });
  }
  return out;
}

function dpidOf(r: () => number): Dpid {
  // full 64-bit range as well as small ones
  if (r() < 0.5) return BigInt(1 + Math.floor(r() * 1000));
  return (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
}

test('property: every probe is byte for byte the one built whole, across times, switches re-joining and ports changing address', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = seededRng(seed);
    const nonce = Uint8Array.from({ length: 8 }, () => Math.floor(r() * 256));
    const secret = Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256));
    const s = createDiscovery(nonce, secret);
    const dpids: Dpid[] = [];
    for (let step = 0; step < 60; step++) {
      const now = Math.floor(r() * 2 ** 40) + (r() < 0.1 ? 0.5 : 0);
      const what = r();
      if (what < 0.25 || dpids.length === 0) {
        // a switch (new, or one again with new ports and addresses)
        const dpid = dpids.length > 0 && r() < 0.3 ? dpids[Math.floor(r() * dpids.length)]! : dpidOf(r);
        if (!dpids.includes(dpid)) dpids.push(dpid);
        switchUp(s, dpid, portsOf(r));
      } else if (what < 0.45) {
        // a port's new hardware address (or state) by PORT_STATUS
        const dpid = dpids[Math.floor(r() * dpids.length)]!;
        const ports = [...(s.switches.get(dpid)?.values() ?? [])];
        if (ports.length > 0) {
          const p = ports[Math.floor(r() * ports.length)]!;
          portStatus(s, dpid, { ...p, hwAddr: r() < 0.7 ? macOf(r) : p.hwAddr, up: r() < 0.8 });
        }
      } else if (what < 0.5) {
        const dpid = dpids[Math.floor(r() * dpids.length)]!;
        switchDown(s, dpid);
      }
      assert.deepEqual(probes(s, now), reference(s, now), `seed ${seed} step ${step}: all probes`);
      const dpid = dpids[Math.floor(r() * dpids.length)]!;
      assert.deepEqual(probes(s, now, dpid), reference(s, now, undefined, dpid), `seed ${seed} step ${step}: one switch's probes`);
      const port = [...(s.switches.get(dpid)?.keys() ?? [])][0];
      if (port !== undefined) assert.deepEqual(probes(s, now, dpid, port), reference(s, now, undefined, dpid, port), `seed ${seed} step ${step}: one port's probe`);
    }
  }
});

test('property: in shares, each share probes the switches inShare says, in the same order, while switches come and go between shares', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = seededRng(100 + seed);
    const s = createDiscovery(Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2), new Uint8Array(32).fill(seed));
    const present: Dpid[] = [];
    const ofs = [1, 2, 3, 7, 100];
    let of = ofs[seed % ofs.length]!;
    for (let step = 0; step < 300; step++) {
      const what = r();
      if (what < 0.15) {
        const dpid = dpidOf(r);
        if (!present.includes(dpid)) present.push(dpid);
        switchUp(s, dpid, portsOf(r));
      } else if (what < 0.22 && present.length > 0) {
        const i = Math.floor(r() * present.length);
        switchDown(s, present[i]!);
        present.splice(i, 1);
      } else if (what < 0.25) {
        // the caller may change the number of shares (another runtime configuration)
        of = ofs[Math.floor(r() * ofs.length)]!;
      }
      const share = { index: step % of, of, periodMs: 1000 };
      const now = 1_000 + step;
      assert.deepEqual(probes(s, now, undefined, undefined, share), reference(s, now, share), `seed ${seed} step ${step}: share ${share.index} of ${of}`);
    }
    // a whole cycle with no change in between: every up port of every switch once
    const whole = reference(s, 5_000).map(where).sort();
    const parts: string[] = [];
    for (let index = 0; index < of; index++) for (const c of probes(s, 5_000, undefined, undefined, { index, of })) parts.push(where(c));
    assert.deepEqual(parts.sort(), whole, `seed ${seed}: one cycle of ${of} shares probes every up port once`);
  }
});
