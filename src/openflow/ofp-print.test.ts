// Open vSwitch's own parser (`ovs-ofctl ofp-print HEX`) must read what this codec encodes.
// ofp-print exits 0 even when it cannot decode, so its output is inspected: it must name the
// expected message, show the expected content, and carry no decode error or warning.
// Needs ovs-ofctl on PATH; skipped with a reason when missing unless SCORE_REQUIRE_SYSTEM_TESTS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  OFPCR,
  OFPFF,
  OFPGT,
  OFPMF,
  OFPP,
  OFPPC,
  act,
  deleteFlowsByCookie,
  encodeMessage,
  flowMod,
  flowStatsRequest,
  groupMod,
  hello,
  ins,
  meterMod,
  multipartRequest,
  oxm,
  packetOut,
  portStatsRequest,
  roleRequest,
  simple,
  type OfMessage,
} from './index.ts';

const which = spawnSync('sh', ['-c', 'command -v ovs-ofctl'], { encoding: 'utf8' });
const available = which.status === 0 && which.stdout.trim() !== '';
const required = process.env.SCORE_REQUIRE_SYSTEM_TESTS === '1';
const skip = available ? false : required ? false : 'ovs-ofctl is not installed (apt-get install openvswitch-common); set SCORE_REQUIRE_SYSTEM_TESTS=1 to make this a failure';

const frame = Uint8Array.from([
  ...[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00],
  ...[0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
]);

const cases: [string, OfMessage, RegExp][] = [
  ['hello', hello(1), /^OFPT_HELLO \(OF1\.3\) \(xid=0x1\):\n version bitmap: 0x04\n?$/],
  ['features request', simple('FEATURES_REQUEST', 2), /^OFPT_FEATURES_REQUEST \(OF1\.3\) \(xid=0x2\):/],
  ['get-config request', simple('GET_CONFIG_REQUEST', 3), /^OFPT_GET_CONFIG_REQUEST \(OF1\.3\)/],
  ['set-config', { type: 'SET_CONFIG', xid: 4, flags: 0, missSendLen: 128 }, /^OFPT_SET_CONFIG \(OF1\.3\) \(xid=0x4\):\s+frags=normal miss_send_len=128/],
  ['barrier request', simple('BARRIER_REQUEST', 5), /^OFPT_BARRIER_REQUEST \(OF1\.3\) \(xid=0x5\):/],
  ['echo request', { type: 'ECHO_REQUEST', xid: 6, data: Uint8Array.of(1, 2, 3) }, /^OFPT_ECHO_REQUEST \(OF1\.3\).*\n.*01 02 03/],
  [
    'flow-mod with match, masks, set-field, goto, metadata, meter',
    flowMod({
      xid: 7,
      cookie: 0xabcdn,
      priority: 200,
      idleTimeout: 30,
      flags: OFPFF.SEND_FLOW_REM,
      match: [
        oxm('in_port', 1),
        oxm('eth_type', 0x0800),
        oxm('eth_src', '02:00:00:00:00:00', 'ff:ff:ff:00:00:00'),
        oxm('ipv4_dst', '10.0.0.0', '255.0.0.0'),
        oxm('ip_proto', 6),
        oxm('tcp_dst', 80),
      ],
      instructions: [
        ins.meter(1),
        ins.apply([act.setField('eth_dst', '02:00:00:00:00:09'), act.setField('ipv4_src', '192.168.0.1'), act.decNwTtl(), act.output(3)]),
        ins.writeMetadata(0x10n, 0xffn),
        ins.gotoTable(2),
      ],
    }),
    /^OFPT_FLOW_MOD \(OF1\.3\) \(xid=0x7\): ADD priority=200,tcp,in_port=1,dl_src=02:00:00:00:00:00\/ff:ff:ff:00:00:00,nw_dst=10\.0\.0\.0\/8,tp_dst=80 cookie:0xabcd idle:30 send_flow_rem actions=meter:1,set_field:02:00:00:00:00:09->eth_dst,set_field:192\.168\.0\.1->ip_src,dec_ttl,output:3,write_metadata:0x10\/0xff,goto_table:2/,
  ],
  [
    'flow-mod on IPv6 with vlan push and group',
    flowMod({
      xid: 8,
      match: [oxm('eth_type', 0x86dd), oxm('ipv6_src', '2001:db8::1'), oxm('ipv6_dst', 'fe80::', 'ffff:ffff::')],
      instructions: [ins.apply([act.pushVlan(), act.setField('vlan_vid', 0x1000 | 10), act.group(7)]), ins.clear()],
    }),
    /ipv6,ipv6_src=2001:db8::1,ipv6_dst=fe80::\/32 .*actions=push_vlan:0x8100,set_field:4106->vlan_vid,group:7,clear_actions/,
  ],
  ['flow-mod delete by cookie', deleteFlowsByCookie(0x42n, 9), /^OFPT_FLOW_MOD \(OF1\.3\) \(xid=0x9\): DEL table:255 cookie:0x42\/0xffffffffffffffff/],
  [
    'packet-out with data',
    packetOut({ xid: 10, actions: [act.output(OFPP.FLOOD)], data: frame }),
    /^OFPT_PACKET_OUT \(OF1\.3\) \(xid=0xa\): in_port=CONTROLLER actions=FLOOD data_len=34\nudp,.*nw_src=10\.0\.0\.1,nw_dst=10\.0\.0\.2/,
  ],
  ['desc request', multipartRequest({ kind: 'DESC' }, 11), /^OFPST_DESC request \(OF1\.3\) \(xid=0xb\):/],
  ['flow stats request', flowStatsRequest({ xid: 12, match: [oxm('eth_type', 0x0806)] }), /^OFPST_FLOW request \(OF1\.3\) \(xid=0xc\): arp/],
  ['aggregate stats request', flowStatsRequest({ xid: 13, aggregate: true }), /^OFPST_AGGREGATE request \(OF1\.3\) \(xid=0xd\):/],
  ['table stats request', multipartRequest({ kind: 'TABLE' }, 14), /^OFPST_TABLE request \(OF1\.3\)/],
  ['port stats request', portStatsRequest(OFPP.ANY, 15), /^OFPST_PORT request \(OF1\.3\) \(xid=0xf\): port_no=ANY/],
  ['port desc request', multipartRequest({ kind: 'PORT_DESC' }, 16), /^OFPST_PORT_DESC request \(OF1\.3\)/],
  ['queue stats request', multipartRequest({ kind: 'QUEUE', portNo: 1, queueId: 0xffffffff }, 17), /^OFPST_QUEUE request \(OF1\.3\).*port=1 queue=ALL/],
  ['group stats request', multipartRequest({ kind: 'GROUP', groupId: 0xfffffffc }, 18), /^OFPST_GROUP request \(OF1\.3\).*group_id=ALL/],
  ['group desc request', multipartRequest({ kind: 'GROUP_DESC' }, 19), /^OFPST_GROUP_DESC request \(OF1\.3\)/],
  ['group features request', multipartRequest({ kind: 'GROUP_FEATURES' }, 20), /^OFPST_GROUP_FEATURES request \(OF1\.3\)/],
  ['meter stats request', multipartRequest({ kind: 'METER', meterId: 1 }, 21), /^OFPST_METER request \(OF1\.3\).*meter=1/],
  ['meter config request', multipartRequest({ kind: 'METER_CONFIG', meterId: 0xffffffff }, 22), /^OFPST_METER_CONFIG request \(OF1\.3\).*meter=all/],
  ['meter features request', multipartRequest({ kind: 'METER_FEATURES' }, 23), /^OFPST_METER_FEATURES request \(OF1\.3\)/],
  ['table features request', multipartRequest({ kind: 'TABLE_FEATURES', tables: [] }, 24), /^OFPST_TABLE_FEATURES request \(OF1\.3\)/],
  [
    'group-mod',
    groupMod({
      xid: 25,
      groupType: OFPGT.SELECT,
      groupId: 1,
      buckets: [
        { weight: 1, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [act.output(1)] },
        { weight: 2, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [act.setQueue(3), act.output(2)] },
      ],
    }),
    /^OFPT_GROUP_MOD \(OF1\.3\) \(xid=0x19\):\n ADD group_id=1,type=select,bucket=(weight:1,)?actions=output:1,bucket=weight:2,actions=set_queue:3,output:2/,
  ],
  [
    'meter-mod',
    meterMod({
      xid: 26,
      flags: OFPMF.KBPS | OFPMF.BURST | OFPMF.STATS,
      meterId: 5,
      bands: [
        { type: 'DROP', rate: 1000, burstSize: 100 },
        { type: 'DSCP_REMARK', rate: 2000, burstSize: 200, precLevel: 1 },
      ],
    }),
    /^OFPT_METER_MOD \(OF1\.3\) \(xid=0x1a\): ADD meter=5 kbps burst stats bands=\ntype=drop rate=1000 burst_size=100\ntype=dscp_remark rate=2000 burst_size=200 prec_level=1/,
  ],
  [
    'port-mod',
    { type: 'PORT_MOD', xid: 27, portNo: 3, hwAddr: '02:00:00:00:00:03', config: OFPPC.PORT_DOWN, mask: OFPPC.PORT_DOWN, advertise: 0 },
    /^OFPT_PORT_MOD \(OF1\.3\) \(xid=0x1b\): port: 3: addr:02:00:00:00:00:03\n {5}config: PORT_DOWN\n +mask: +PORT_DOWN/,
  ],
  ['table-mod', { type: 'TABLE_MOD', xid: 28, tableId: 1, config: 0 }, /^OFPT_TABLE_MOD \(OF1\.3\) \(xid=0x1c\): table_id=1/],
  ['role request', roleRequest(OFPCR.ROLE_MASTER, 7n, 29), /^OFPT_ROLE_REQUEST \(OF1\.3\) \(xid=0x1d\):\s+role=(master|primary) generation_id=7/],
  ['get-async request', simple('GET_ASYNC_REQUEST', 30), /^OFPT_GET_ASYNC_REQUEST \(OF1\.3\)/],
  [
    'set-async',
    { type: 'SET_ASYNC', xid: 31, packetInMask: [3, 0], portStatusMask: [7, 7], flowRemovedMask: [15, 0] },
    /^OFPT_SET_ASYNC \(OF1\.3\) \(xid=0x1f\):\n (master|primary):\n +PACKET_IN: no_match action\n +PORT_STATUS: add delete modify\n +FLOW_REMOVED: idle hard delete group_delete/,
  ],
  ['queue get-config request', { type: 'QUEUE_GET_CONFIG_REQUEST', xid: 32, port: 1 }, /^OFPT_QUEUE_GET_CONFIG_REQUEST \(OF1\.3\) \(xid=0x20\): port=1/],
];

const BAD = /decode error|\*\*\*|\bbad\b|too short|unknown|warn|trailing garbage|\(\?\?\?\)/i;

for (const [name, msg, expect] of cases) {
  test(`ovs-ofctl ofp-print reads ${name}`, { skip }, () => {
    if (!available) assert.fail('ovs-ofctl is not on PATH and SCORE_REQUIRE_SYSTEM_TESTS=1 requires it');
    const hex = Buffer.from(encodeMessage(msg)).toString('hex');
    const r = spawnSync('ovs-ofctl', ['ofp-print', hex], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ovs-ofctl exited ${r.status}: ${r.stderr}`);
    assert.equal(r.stderr, '', `ovs-ofctl complained: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, BAD, `ofp-print could not read ${hex}:\n${r.stdout}`);
    assert.match(r.stdout, expect, `unexpected ofp-print output for ${hex}`);
  });
}
