// Make before break at a cluster takeover: the cookie layout, the generation delete as OpenFlow
// bytes, the controller keeping a predecessor's rules, and the order of the takeover's steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GENERATION_COOKIE_MASK,
  PATH_COOKIE_TAG,
  PATH_COOKIE_TAG_MASK,
  type Dpid,
  type SwitchCommand,
  generationCookie,
  generationSlot,
  pathCookie,
  pathIdOf,
  slotOfCookie,
} from '../controller/commands.ts';
import * as ctl from '../controller/controller.ts';
import type { PortRef } from '../controller/commands.ts';
import { fatTreeHarness } from '../controller/fat-tree-fabric.testing.ts';
import type { Hop, InstalledPath } from '../controller/routing.ts';
import { execute } from '../dataplane/fabric.ts';
import { isConfirmed } from '../controller/install-tracker.ts';
import { OFPFC, OFPG, OFPP, OFPTT, decodeMessage, encodeMessage, flowStatsRequest } from '../openflow/index.ts';
import type { CookieFilter } from '../runtime/dataplane.ts';
import { commandToMessage } from '../openflow/connection/translate.ts';
import {
  type HeldRule,
  PATH_RULES_FILTER,
  type RoutedPath,
  type TakeoverEffects,
  cleanLateSwitch,
  cleanSwitch,
  directionKey,
  runTakeover,
  settleSwitch,
  staleGenerationDeletes,
} from './takeover.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('path cookies: tag | generation slot (24 bits) | path id (32 bits); the generation mask selects one generation', () => {
  assert.equal(generationSlot(0x1234_5678n), 0x34_5678n, 'the low 24 bits of the generation id');
  const c = pathCookie(0x34_5678n, 9n);
  assert.equal(c, 0x5c34_5678_0000_0009n);
  assert.equal(c & PATH_COOKIE_TAG_MASK, PATH_COOKIE_TAG, 'still a path rule for the single-controller clear-all');
  assert.equal(slotOfCookie(c), 0x34_5678n);
  assert.equal(c & GENERATION_COOKIE_MASK, generationCookie(0x34_5678n));
  assert.notEqual(pathCookie(0x34_5679n, 9n) & GENERATION_COOKIE_MASK, generationCookie(0x34_5678n), 'the next generation is not selected');
  assert.equal(GENERATION_COOKIE_MASK, 0xffff_ffff_0000_0000n);
  assert.equal(slotOfCookie(0n), null, 'the table-miss rule is no path rule');
  assert.equal(slotOfCookie(0x1200_0000_0000_0001n), null, 'another application\'s cookie');
  // a single controller's cookies are generation 0, as before
  assert.equal(pathCookie(0n, 5n), PATH_COOKIE_TAG | 5n);
});

test('a generation delete is OFPFC_DELETE with cookie and cookie_mask in every table (OpenFlow 1.3.5 §7.3.4.1, A.3.4.1)', () => {
  const [del] = staleGenerationDeletes(7n, [{ cookie: pathCookie(0x00_0042n, 3n) }], 0x00_0043n);
  assert.ok(del !== undefined, 'del !== undefined');
  const bytes = encodeMessage({ ...commandToMessage(del), xid: 5 });
  // ofp_flow_mod: header(8) cookie(8) cookie_mask(8) table_id(1) command(1) idle(2) hard(2)
  // priority(2) buffer_id(4) out_port(4) out_group(4) flags(2) pad(2), then an empty match (4 + 4 pad);
  // priority is the builder's default OFP_DEFAULT_PRIORITY, which a non-strict delete ignores
  assert.equal(
    hex(bytes.subarray(0, 48)),
    '040e0038' + '00000005' + '5c00004200000000' + 'ffffffff00000000' + 'ff' + '03' + '0000' + '0000' + '8000' + 'ffffffff' + 'ffffffff' + 'ffffffff' + '0000' + '0000',
  );
  assert.equal(hex(bytes.subarray(48)), '0001000400000000', 'OFPMT_OXM match with no field');
  const m = decodeMessage(bytes);
  assert.equal(m.type, 'FLOW_MOD');
  if (m.type !== 'FLOW_MOD') return;
  assert.equal(m.command, OFPFC.DELETE);
  assert.equal(m.tableId, OFPTT.ALL);
  assert.equal(m.cookie, 0x5c00_0042_0000_0000n);
  assert.equal(m.cookieMask, GENERATION_COOKIE_MASK);
  assert.equal(m.outPort, OFPP.ANY);
  assert.equal(m.outGroup, OFPG.ANY);
  assert.deepEqual(m.match, []);
  // the switch's rule: (rule cookie & mask) == (cookie & mask)
  assert.equal(pathCookie(0x42n, 77n) & m.cookieMask, m.cookie & m.cookieMask, 'the old generation\'s rules match');
  assert.notEqual(pathCookie(0x43n, 77n) & m.cookieMask, m.cookie & m.cookieMask, 'the new generation\'s do not');
});

test('staleGenerationDeletes: one delete per older generation found; its own generation, the table-miss and foreign cookies stay', () => {
  const own = 0x100n;
  const cookies = [pathCookie(0xffn, 1n), pathCookie(0xffn, 2n), pathCookie(own, 1n), 0n, 0x77n, pathCookie(0x3n, 1n)];
  assert.deepEqual(staleGenerationDeletes(9n, cookies.map((cookie) => ({ cookie })), own), [
    { kind: 'flow-delete', dpid: 9n, cookie: generationCookie(0x3n), cookieMask: GENERATION_COOKIE_MASK },
    { kind: 'flow-delete', dpid: 9n, cookie: generationCookie(0xffn), cookieMask: GENERATION_COOKIE_MASK },
  ]);
  assert.deepEqual(staleGenerationDeletes(9n, [{ cookie: pathCookie(own, 4n) }, { cookie: 0n }], own), []);
});

test('controller: with keepPathRules a switch handed over keeps its rules; paths of a generation carry its cookie; routePairs routes the known pairs', () => {
  const ports = [1, 2, 3].map((p) => ({ port: p, hwAddr: `02:00:00:00:00:0${p}`, up: true, speedKbps: 1_000_000, name: `p${p}` }));
  const alone = ctl.createController({ nonce: new Uint8Array(8) });
  const first = ctl.switchUp(alone, 1n, ports, 0);
  assert.ok(first.commands.some((c) => c.kind === 'flow-delete' && c.cookieMask === PATH_COOKIE_TAG_MASK), 'alone: the switch starts without path rules');

  const c = ctl.createController({ nonce: new Uint8Array(8), keepPathRules: true });
  ctl.useGeneration(c, 0x1_0000_0042n);
  const up = ctl.switchUp(c, 1n, ports, 0);
  assert.ok(!up.commands.some((x) => x.kind === 'flow-delete'), 'no rule deleted at the handover');
  assert.ok(up.commands.some((x) => x.kind === 'flow-add' && x.rule.priority === 0), 'the table-miss rule is (re)installed');

  const a = '02:aa:00:00:00:01';
  const b = '02:aa:00:00:00:02';
  ctl.vmMoved(c, a, { dpid: 1n, port: 1 }, 10);
  ctl.vmMoved(c, b, { dpid: 1n, port: 2 }, 10);
  const r = ctl.routePairs(c, [{ src: a, dst: b }, { src: b, dst: a }, { src: a, dst: '02:aa:00:00:00:09' }], 20);
  assert.equal(r.cookies.length, 2, 'the pair with an unknown host is not routed');
  for (const k of r.cookies) assert.equal(slotOfCookie(k), 0x42n);
  const adds = r.commands.filter((x) => x.kind === 'flow-add');
  assert.equal(adds.length, 2);
  assert.deepEqual(adds.map((x) => (x.kind === 'flow-add' ? x.rule.match : null)), [
    { inPort: 1, ethSrc: a, ethDst: b },
    { inPort: 2, ethSrc: b, ethDst: a },
  ]);
  // routed again: nothing new, the same cookies to wait for
  const again = ctl.routePairs(c, [{ src: a, dst: b }], 30);
  assert.deepEqual(again.commands, []);
  assert.deepEqual(again.cookies, [r.cookies[0]]);
});

/** Effects that record what the takeover did, in order. */
function recorder(o: {
  switches: Dpid[];
  cookies: Map<Dpid, (bigint | HeldRule)[]>;
  confirmed?: boolean;
  /** the installed paths (default one, pathCookie(2n, 1n)) */
  paths?: RoutedPath[];
  /** status per cookie (default all confirmed, or all pending with confirmed: false) */
  status?: Map<bigint, ctl.PathStatus>;
  leaderUntil?: string;
  sendThrows?: Dpid;
  /** the previous leader's view was read (default true) */
  viewRead?: boolean;
}): {
  e: TakeoverEffects;
  steps: string[];
  sent: SwitchCommand[];
  filters: CookieFilter[];
} {
  const steps: string[] = [];
  const filters: CookieFilter[] = [];
  const sent: SwitchCommand[] = [];
  let leader = true;
  const step = (s: string): void => {
    steps.push(s);
    if (s === o.leaderUntil) leader = false;
  };
  const e: TakeoverEffects = {
    isLeader: () => leader,
    caughtUp: () => Promise.resolve(step('caught-up')),
    installPaths: () => {
      step('install');
      const paths = o.paths ?? [{ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', cookie: pathCookie(2n, 1n) }];
      return { paths, pairs: paths.length, viewRead: o.viewRead ?? true };
    },
    confirmed: (paths) => {
      step('confirmed');
      return Promise.resolve(o.status ?? new Map(paths.map((p): [bigint, ctl.PathStatus] => [p.cookie, { state: o.confirmed === false ? 'pending' : 'confirmed' }])));
    },
    switches: () => {
      step('switches');
      return o.switches;
    },
    switchSettled: (d) => Promise.resolve(step(`settled ${d}`)),
    barrier: (d) => Promise.resolve(step(`barrier ${d}`)),
    pathRules: (d, filter) => {
      step(`read ${d}`);
      filters.push(filter);
      return Promise.resolve((o.cookies.get(d) ?? []).map((x) => (typeof x === 'bigint' ? { cookie: x } : x)));
    },
    send: (d, commands) => {
      if (d === o.sendThrows) throw new Error('not the leader');
      step(`delete ${d}`);
      sent.push(...commands);
    },
    log: () => undefined,
  };
  return { e, steps, sent, filters };
}

test('takeover order: caught up, install new, confirmed, then per switch barrier, read, delete the old generation; never a delete before the install', async () => {
  const cookies = new Map<Dpid, bigint[]>([
    [1n, [pathCookie(1n, 5n), pathCookie(2n, 1n), 0n]],
    [2n, [pathCookie(2n, 1n)]],
  ]);
  const { e, steps, sent } = recorder({ switches: [1n, 2n], cookies });
  const r = await runTakeover(e, 2n);
  assert.deepEqual(r, { pairs: 1, confirmed: true, refused: [], switches: 2, deletes: 1, abandoned: false, viewRead: true });
  assert.deepEqual(steps.slice(0, 4), ['caught-up', 'install', 'confirmed', 'switches']);
  const at = (s: string): number => steps.indexOf(s);
  assert.ok(at('barrier 1') > at('confirmed') && at('read 1') > at('barrier 1') && at('delete 1') > at('read 1'), steps.join(', '));
  assert.ok(at('read 2') > at('barrier 2'), 'at(\'read 2\') > at(\'barrier 2\')');
  assert.equal(at('delete 2'), -1, 'switch 2 holds only the new generation: nothing to delete');
  assert.deepEqual(sent, [{ kind: 'flow-delete', dpid: 1n, cookie: generationCookie(1n), cookieMask: GENERATION_COOKIE_MASK }]);
});

test('takeover: leadership lost before or after the install deletes nothing; a fenced send fails that switch only', async () => {
  const cookies = new Map<Dpid, bigint[]>([[1n, [pathCookie(1n, 5n)]], [2n, [pathCookie(1n, 6n)]]]);
  for (const until of ['caught-up', 'install', 'confirmed']) {
    const { e, steps, sent } = recorder({ switches: [1n, 2n], cookies, leaderUntil: until });
    const r = await runTakeover(e, 2n);
    assert.equal(r.abandoned, true, until);
    assert.deepEqual(sent, [], `no delete after losing leadership at ${until}`);
    assert.ok(!steps.some((s) => s.startsWith('barrier') || s.startsWith('read')), steps.join(', '));
  }
  const { e, sent } = recorder({ switches: [1n, 2n], cookies, sendThrows: 1n });
  const r = await runTakeover(e, 2n);
  assert.equal(r.switches, 1);
  assert.equal(sent.length, 1);
  // the paths were not all confirmed in time: the older generations still go, after the install
  const late = recorder({ switches: [1n], cookies, confirmed: false });
  const lr = await runTakeover(late.e, 2n);
  assert.equal(lr.confirmed, false);
  assert.deepEqual(late.steps, ['caught-up', 'install', 'confirmed', 'switches', 'barrier 1', 'read 1', 'delete 1']);
});

test('takeover: the previous leader\'s view not read (store down) deletes no older generation this term, nor on a switch handed over later, and says so', async () => {
  const cookies = new Map<Dpid, bigint[]>([[1n, [pathCookie(1n, 5n)]], [2n, [pathCookie(1n, 6n)]]]);
  const logs: string[] = [];
  const rec = recorder({ switches: [1n, 2n], cookies, paths: [], viewRead: false });
  const r = await runTakeover({ ...rec.e, log: (_l, m) => logs.push(m) }, 2n);
  assert.deepEqual(r, { pairs: 0, confirmed: true, refused: [], switches: 0, deletes: 0, abandoned: false, viewRead: false });
  assert.deepEqual(rec.steps, ['caught-up', 'install', 'confirmed'], 'no switch list taken: late switches are not cleaned either');
  assert.deepEqual(rec.sent, []);
  assert.ok(logs.some((m) => /view was not read.*no older generation is deleted/.test(m)), logs.join('\n'));
});

test('cleanSwitch (a switch handed over later): barrier before the read, the read before the delete', async () => {
  const { e, steps, filters } = recorder({ switches: [4n], cookies: new Map([[4n, [pathCookie(9n, 1n), pathCookie(3n, 1n)]]]) });
  assert.equal(await cleanSwitch(e, 4n, 3n), 1);
  assert.deepEqual(steps, ['barrier 4', 'read 4', 'delete 4']);
  assert.deepEqual(filters, [{ cookie: PATH_COOKIE_TAG, cookieMask: PATH_COOKIE_TAG_MASK }], 'the switch is asked for S-CORE path rules only');
});

test('the read of a switch\'s path rules is a multipart FLOW request with cookie and cookie_mask (OpenFlow 1.3.5 §7.3.5.2, §7.3.4.1): the bytes', () => {
  const bytes = encodeMessage(flowStatsRequest({ xid: 9, ...PATH_RULES_FILTER }));
  // ofp_header(8): version 4, OFPT_MULTIPART_REQUEST 18, length 56, xid; ofp_multipart_request:
  // type OFPMP_FLOW 1, flags 0, pad(4); ofp_flow_stats_request: table_id OFPTT_ALL, pad(3),
  // out_port OFPP_ANY, out_group OFPG_ANY, pad(4), cookie, cookie_mask; then an empty OXM match
  assert.equal(
    hex(bytes),
    '04120038' + '00000009' + '0001' + '0000' + '00000000' + 'ff' + '000000' + 'ffffffff' + 'ffffffff' + '00000000' + '5c00000000000000' + 'ff00000000000000' + '0001000400000000',
  );
  const m = decodeMessage(bytes);
  assert.ok(m.type === 'MULTIPART_REQUEST' && m.body.kind === 'FLOW', 'm.type === \'MULTIPART_REQUEST\' && m.body.kind === \'FLOW\'');
  assert.equal(m.body.cookie, PATH_COOKIE_TAG);
  assert.equal(m.body.cookieMask, PATH_COOKIE_TAG_MASK);
});

test('pathStatus: a path a switch refused (an OpenFlow error for its FLOW_MOD) is refused by that switch, not confirmed; one every switch accepted is confirmed; one replaced is gone', () => {
  const ports = [1, 2, 3].map((p) => ({ port: p, hwAddr: `02:00:00:00:00:0${p}`, up: true, speedKbps: 1_000_000, name: `p${p}` }));
  const c = ctl.createController({ nonce: new Uint8Array(8), keepPathRules: true });
  ctl.switchUp(c, 1n, ports, 0);
  const a = '02:aa:00:00:00:01';
  const b = '02:aa:00:00:00:02';
  ctl.placeHosts(c, [{ mac: a, at: { dpid: 1n, port: 1 } }, { mac: b, at: { dpid: 1n, port: 2 } }], 10);
  const r = ctl.routePairs(c, [{ src: a, dst: b }, { src: b, dst: a }], 20);
  assert.deepEqual(r.routed.map((x) => [x.src, x.dst]), [[a, b], [b, a]]);
  const [ab, ba] = r.routed as [RoutedPath, RoutedPath];
  assert.deepEqual(ctl.pathStatus(c, ab), { state: 'pending' });
  ctl.flowsAccepted(c, 1n, [ab.cookie], 30);
  ctl.flowRejected(c, 1n, ba.cookie, 'FLOW_MOD_FAILED/TABLE_FULL', 30);
  assert.deepEqual(ctl.pathStatus(c, ab), { state: 'confirmed' });
  assert.deepEqual(ctl.pathStatus(c, ba), { state: 'refused', by: 1n, error: 'FLOW_MOD_FAILED/TABLE_FULL' });
  // what the takeover asked before: nobody waits for the refused cookie any more
  assert.equal(isConfirmed(c.routing.install, pathIdOf(ba.cookie)), true);
  // a moves: its path is recomputed under a new cookie; the old one is gone, not refused
  ctl.vmMoved(c, a, { dpid: 1n, port: 3 }, 40);
  assert.notEqual(c.routing.paths.get(`${a}>${b}`)?.cookie, ab.cookie);
  assert.deepEqual(ctl.pathStatus(c, ab), { state: 'gone' });
});

test('a refused takeover path cannot keep its old rules (they were replaced in place on the hops that accepted): the older generation is deleted by mask on every switch and the log names the refusing switch', async () => {
  // the reproduction: fat-tree(4), a -> b, the second hop of the new path refuses its FLOW_MOD
  const old = fatTreeHarness(4, 2);
  const neu = fatTreeHarness(4, 2);
  ctl.useGeneration(old.controller, 1n);
  ctl.useGeneration(neu.controller, 2n);
  const places = (h: typeof old): { mac: string; at: PortRef }[] => h.hosts.map((mac) => ({ mac, at: h.fabric.hosts.get(mac) as PortRef }));
  ctl.placeHosts(old.controller, places(old), 1);
  ctl.placeHosts(neu.controller, places(neu), 1);
  const a = old.hosts[0] as string;
  const b = old.hosts[7] as string;
  const fab = old.fabric;
  execute(fab, ctl.routePairs(old.controller, [{ src: a, dst: b }], 2).commands, 2);
  const r2 = ctl.routePairs(neu.controller, [{ src: a, dst: b }], 3);
  const newPath = [...neu.controller.routing.paths.values()][0] as InstalledPath;
  const refusing = (newPath.hops[1] as Hop).dpid;
  execute(fab, r2.commands.filter((x) => !(x.kind === 'flow-add' && x.dpid === refusing)), 3);
  execute(fab, ctl.flowRejected(neu.controller, refusing, newPath.cookie, 'FLOW_MOD_FAILED', 4).commands, 4);
  const status = new Map([[newPath.cookie, ctl.pathStatus(neu.controller, { src: a, dst: b, cookie: newPath.cookie })]]);
  assert.deepEqual(status.get(newPath.cookie), { state: 'refused', by: refusing, error: 'FLOW_MOD_FAILED' });
  const logs: string[] = [];
  const held = new Map<Dpid, HeldRule[]>(
    [...fab.switches].map(([d, sw]) => [d, sw.table.entries.map((x) => ({ cookie: x.rule.cookie }))]),
  );
  const rec = recorder({ switches: [...fab.switches.keys()], cookies: held, paths: [{ src: a, dst: b, cookie: newPath.cookie }], status });
  const r = await runTakeover({ ...rec.e, log: (_l, m) => logs.push(m) }, 2n);
  assert.equal(r.confirmed, false, 'a refused path is no confirmed one');
  assert.deepEqual(r.refused, [directionKey(a, b)]);
  assert.ok(rec.sent.length > 0, 'rec.sent.length > 0');
  for (const d of rec.sent) assert.deepEqual(d.kind === 'flow-delete' ? [d.cookie, d.cookieMask] : d, [generationCookie(1n), GENERATION_COOKIE_MASK], 'one masked delete per switch, never per cookie');
  execute(fab, rec.sent, 5);
  const holding = [...fab.switches].filter(([, sw]) => sw.table.entries.some((x) => x.rule.match.ethSrc === a && x.rule.match.ethDst === b)).map(([d]) => d);
  assert.deepEqual(holding, [], 'no half path of either generation is left: the direction goes to the controller until the retry');
  assert.ok(logs.some((m) => m.includes(`${a} -> ${b} refused by switch ${refusing.toString(16)}`) && m.includes('slow path') && !m.includes('kept')), logs.join('\n'));
});

test('a switch handed over later in the term is cleaned only once it settled (links back, paths through it confirmed), by generation mask; not at all if leadership went meanwhile', async () => {
  const rules = new Map<Dpid, HeldRule[]>([[5n, [{ cookie: pathCookie(1n, 5n) }, { cookie: pathCookie(1n, 6n) }]]]);
  const { e, steps, sent } = recorder({ switches: [5n], cookies: rules });
  assert.equal(await cleanLateSwitch(e, 5n, 2n), 1);
  assert.deepEqual(steps, ['settled 5', 'barrier 5', 'read 5', 'delete 5']);
  assert.deepEqual(sent, [{ kind: 'flow-delete', dpid: 5n, cookie: generationCookie(1n), cookieMask: GENERATION_COOKIE_MASK }]);
  const gone = recorder({ switches: [5n], cookies: rules, leaderUntil: 'settled 5' });
  assert.equal(await cleanLateSwitch(gone.e, 5n, 2n), 0);
  assert.deepEqual(gone.steps, ['settled 5']);
  assert.deepEqual(gone.sent, []);
});

test('settleSwitch: a switch that never had a link waits for none (no full catch-up wait, no warning); one that had links waits for them, bounded', async () => {
  const run = async (linksSeen: number, linksNow: () => number): Promise<{ waited: number; warns: string[] }> => {
    let t = 0;
    const warns: string[] = [];
    await settleSwitch(
      7n,
      { isLeader: () => true, present: () => true, links: linksNow, linksSeen, pathsPending: () => false, now: () => t, sleep: (ms) => ((t += ms), Promise.resolve()), log: (_l, m) => warns.push(m) },
      5_000,
      2_000,
    );
    return { waited: t, warns };
  };
  assert.deepEqual(await run(0, () => 0), { waited: 0, warns: [] }, 'never had links');
  let calls = 0;
  const back = await run(2, () => Math.floor(++calls / 20)); // its 2 links come back after ~40 polls
  assert.ok(back.waited > 0 && back.waited < 5_000 && back.warns.length === 0, JSON.stringify(back));
  const lost = await run(2, () => 1);
  assert.equal(lost.waited, 5_000);
  assert.match(lost.warns[0] ?? '', /has 1 of its 2 links after 5000 ms/);
});
