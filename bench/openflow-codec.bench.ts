/**
 * OpenFlow codec throughput. Decode: flow-stats multipart replies carrying thousands of entries
 * (split over several messages with OFPMPF_REPLY_MORE, as a switch sends them), in entries/s
 * and MB/s. Encode: typical flow-mods per second (target >= 1,000,000/s). When Python's os-ken
 * is installed (Debian python3-os-ken), the same reply bytes go through its OpenFlow 1.3 parser
 * in the same run, timed inside Python, and the ratio is printed (target >= 10x). Medians over
 * repeats. Prints one JSON object.
 *   node --import tsx bench/openflow-codec.bench.ts [--entries N] [--repeats N]
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import {
  OFPMPF,
  act,
  decodeMessage,
  encodeMessage,
  flowMod,
  ins,
  oxm,
  type FlowStats,
  type OfMessage,
} from '../src/openflow/index.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '5000' },
    repeats: { type: 'string', default: '7' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const ENTRIES = Number(values.entries);
const REPEATS = Number(values.repeats);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

// A controller's typical flow: in_port, ethertype, IPv4 destination, VLAN; one apply-actions.
function entry(i: number): FlowStats {
  return {
    tableId: i % 4,
    durationSec: 1000 + i,
    durationNsec: (i * 7919) % 1_000_000_000,
    priority: 100 + (i % 50),
    idleTimeout: 60,
    hardTimeout: 0,
    flags: 1,
    cookie: BigInt(i) << 32n,
    packetCount: BigInt(i * 1000),
    byteCount: BigInt(i * 1_500_000),
    match: [
      oxm('in_port', 1 + (i % 48)),
      oxm('eth_type', 0x0800),
      oxm('eth_dst', `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`),
      oxm('ipv4_dst', `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`),
    ],
    instructions: [ins.apply([act.setField('vlan_vid', 0x1000 | (i % 4000)), act.output(1 + ((i + 1) % 48))])],
  };
}

// Split into messages under the 64 KiB limit, as a switch does.
const flows = Array.from({ length: ENTRIES }, (_, i) => entry(i));
const perMessage = 400;
const replies: Uint8Array[] = [];
for (let i = 0; i < flows.length; i += perMessage) {
  const part = flows.slice(i, i + perMessage);
  const more = i + perMessage < flows.length;
  const msg: OfMessage = { type: 'MULTIPART_REPLY', xid: 1, flags: more ? OFPMPF.REPLY_MORE : 0, body: { kind: 'FLOW', flows: part } };
  replies.push(encodeMessage(msg));
}
const totalBytes = replies.reduce((n, r) => n + r.length, 0);

// Sanity: the bytes decode back to the entries (otherwise the figures mean nothing).
{
  let count = 0;
  for (const r of replies) {
    const m = decodeMessage(r);
    if (m.type !== 'MULTIPART_REPLY' || m.body.kind !== 'FLOW') throw new Error('bench input does not decode as flow stats');
    count += m.body.flows.length;
  }
  if (count !== ENTRIES) throw new Error(`decoded ${count} entries, expected ${ENTRIES}`);
}

function timeDecode(): number {
  const t0 = performance.now();
  let rounds = 0;
  let sink = 0;
  do {
    for (const r of replies) {
      const m = decodeMessage(r);
      if (m.type === 'MULTIPART_REPLY' && m.body.kind === 'FLOW') sink += m.body.flows.length;
    }
    rounds++;
  } while (performance.now() - t0 < 300);
  const seconds = (performance.now() - t0) / 1000;
  if (sink !== rounds * ENTRIES) throw new Error('decode count mismatch');
  return (rounds * ENTRIES) / seconds;
}

const flowMods = Array.from({ length: 1024 }, (_, i) => {
  const e = entry(i);
  return flowMod({ xid: i, cookie: e.cookie, priority: e.priority, idleTimeout: 60, match: e.match, instructions: e.instructions });
});
const flowModBytes = encodeMessage(flowMods[0] as OfMessage).length;

function timeEncode(): number {
  const t0 = performance.now();
  let n = 0;
  let sink = 0;
  do {
    for (let i = 0; i < flowMods.length; i++) sink += encodeMessage(flowMods[i] as OfMessage).length;
    n += flowMods.length;
  } while (performance.now() - t0 < 300);
  const seconds = (performance.now() - t0) / 1000;
  if (sink === 0) throw new Error('nothing encoded');
  return n / seconds;
}

// Each side is measured in its own phase: decoding thousands of entries leaves garbage whose
// collection would otherwise land in the encode timings. The interleaved figure is reported too.
timeEncode(); // warm-up
const encodeRates: number[] = [];
for (let i = 0; i < REPEATS; i++) encodeRates.push(timeEncode());
timeDecode(); // warm-up
const decodeRates: number[] = [];
for (let i = 0; i < REPEATS; i++) decodeRates.push(timeDecode());
const interleaved: number[] = [];
for (let i = 0; i < 3; i++) {
  timeDecode();
  interleaved.push(timeEncode());
}
const decodeEntriesPerSec = median(decodeRates);
const bytesPerEntry = totalBytes / ENTRIES;

// os-ken: the same reply bytes through its OpenFlow 1.3 parser; timing inside Python.
const PY = `
import sys, json, time
from os_ken.ofproto import ofproto_parser, ofproto_v1_3, ofproto_v1_3_parser
class DP:
    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser
    id = 1
msgs = [bytes.fromhex(line) for line in sys.stdin.read().split()]
repeats = int(sys.argv[1])
def run():
    n = 0
    for b in msgs:
        version, msg_type, msg_len, xid = ofproto_parser.header(b)
        m = ofproto_parser.msg(DP(), version, msg_type, msg_len, xid, b)
        n += len(m.body)
    return n
count = run()
rates = []
for _ in range(repeats):
    t0 = time.perf_counter(); rounds = 0
    while True:
        run(); rounds += 1
        if time.perf_counter() - t0 > 0.3: break
    rates.append(rounds * count / (time.perf_counter() - t0))
rates.sort()
print(json.dumps({"entries": count, "entriesPerSec": rates[len(rates)//2]}))
`;

let osken: { available: boolean; entriesPerSec?: number; ratio?: number; reason?: string };
const py = spawnSync(values.python, ['-c', PY, String(Math.max(3, Math.ceil(REPEATS / 2)))], {
  input: replies.map((r) => Buffer.from(r).toString('hex')).join('\n'),
  encoding: 'utf8',
  maxBuffer: 1 << 26,
});
if (py.status === 0) {
  const out = JSON.parse(py.stdout) as { entries: number; entriesPerSec: number };
  if (out.entries !== ENTRIES) throw new Error(`os-ken decoded ${out.entries} entries, expected ${ENTRIES}`);
  osken = {
    available: true,
    entriesPerSec: Math.round(out.entriesPerSec),
    ratio: Number((decodeEntriesPerSec / out.entriesPerSec).toFixed(1)),
  };
} else {
  osken = { available: false, reason: (py.error?.message ?? py.stderr.trim().split('\n').pop() ?? 'failed').slice(0, 200) };
}

console.log(
  JSON.stringify({
    bench: 'openflow-codec',
    node: process.version,
    repeats: REPEATS,
    decode: {
      messages: replies.length,
      entries: ENTRIES,
      bytes: totalBytes,
      bytesPerEntry: Number(bytesPerEntry.toFixed(1)),
      entriesPerSec: Math.round(decodeEntriesPerSec),
      mbPerSec: Number(((decodeEntriesPerSec * bytesPerEntry) / 1e6).toFixed(1)),
    },
    encode: {
      flowModBytes,
      flowModsPerSec: Math.round(median(encodeRates)),
      mbPerSec: Number(((median(encodeRates) * flowModBytes) / 1e6).toFixed(1)),
      flowModsPerSecInterleavedWithDecode: Math.round(median(interleaved)),
      target: 1_000_000,
    },
    osken: { ...osken, targetRatio: 10 },
  }),
);
