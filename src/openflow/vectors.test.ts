// Golden vectors from the Ryu project, carried in the repository under ./vectors/ryu/ (see
// SOURCES.md there; Apache-2.0, LICENSE beside it). For each wire message: the decoding agrees with Ryu's JSON decoding, re-encoding the
// decoded message gives the same bytes, and the message built from the JSON alone (no length
// fields: the encoder computes them) also encodes to the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isScoreError } from '../errors/errors.ts';
import { decodeMessage, encodeMessage, type OfMessage } from './index.ts';
import { type MapNotes, assertMatches, fromRyu, isConcrete, parseJsonLossless } from './ryu-json.testing.ts';

const ROOT = fileURLToPath(new URL('./vectors/ryu/', import.meta.url));
/** The team's shared vector set beside the repository: optional, only adds checks (see the end). */
const SHARED_PACKETS = fileURLToPath(new URL('../../../shared/vectors/openflow13/ryu/packet_data/', import.meta.url));
const PACKETS = `${ROOT}packet_data/`;
const JSON_DIR = `${ROOT}json/`;

/**
 * Vectors whose JSON holds vendor extensions the codec keeps opaque: Nicira actions (NXAction*)
 * and the ONF flow-monitor multipart. Those parts are compared only as "an opaque extension of
 * the right vendor" (Ryu shows them decoded, the codec keeps bytes); everything else in these
 * messages is compared field by field, and the bytes must still round-trip exactly. Non-basic
 * OXM fields (Nicira registers, tunnel addresses, ct_state, ONF pbb_uca) are compared exactly,
 * as raw TLVs built from the JSON. Asserted: a vector joining or leaving this list fails.
 */
const EXTENSION_VECTORS = new Set([
  '4-12-ofp_flow_stats_reply.packet',
  '4-63-onf_flow_monitor_request.packet',
  'libofproto-OFP13-flow_mod.packet',
  'libofproto-OFP13-flow_mod_conjunction.packet',
  'ovs-ofctl-of13-action_conjunction.packet',
  'ovs-ofctl-of13-action_controller.packet',
  'ovs-ofctl-of13-action_controller2.packet',
  'ovs-ofctl-of13-action_ct.packet',
  'ovs-ofctl-of13-action_ct_clear.packet',
  'ovs-ofctl-of13-action_ct_exec.packet',
  'ovs-ofctl-of13-action_ct_nat.packet',
  'ovs-ofctl-of13-action_ct_nat_v6.packet',
  'ovs-ofctl-of13-action_dec_ttl_cnt_ids.packet',
  'ovs-ofctl-of13-action_fintimeout.packet',
  'ovs-ofctl-of13-action_learn.packet',
  'ovs-ofctl-of13-action_note.packet',
  'ovs-ofctl-of13-action_output_trunc.packet',
  'ovs-ofctl-of13-action_resubmit.packet',
  'ovs-ofctl-of13-action_sample.packet',
  'ovs-ofctl-of13-action_sample2.packet',
  'ovs-ofctl-of13-action_stack_pop.packet',
  'ovs-ofctl-of13-action_stack_push.packet',
  'ovs-ofctl-of13-match_load_nx_register.packet',
  'ovs-ofctl-of13-match_move_nx_register.packet',
]);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function load(name: string): { bytes: Uint8Array; json: ReturnType<typeof parseJsonLossless> } {
  return {
    bytes: new Uint8Array(readFileSync(PACKETS + name)),
    json: parseJsonLossless(readFileSync(`${JSON_DIR}${name}.json`, 'utf8')),
  };
}

const files = readdirSync(PACKETS).sort();
const wire = files.filter((f) => f.endsWith('.packet'));

test('every vector is classified (104 wire messages + 1 truncated file)', () => {
  assert.equal(wire.length, 104);
  assert.deepEqual(
    files.filter((f) => !f.endsWith('.packet')),
    ['libofproto-OFP13-flow_mod.truncated64'],
  );
  for (const f of EXTENSION_VECTORS) assert.ok(wire.includes(f), `${f} listed but absent`);
});

const seenExtensions = new Set<string>();

for (const name of wire) {
  test(`vector ${name}`, () => {
    const { bytes, json } = load(name);
    const decoded = decodeMessage(bytes);
    const notes: MapNotes = { extensions: [] };
    const expected = fromRyu(json, decoded.xid, notes);
    if (notes.extensions.length > 0) seenExtensions.add(name);

    // 1. The decoding agrees with Ryu's.
    assertMatches(decoded, expected);
    // 2. Re-encoding the decoded message reproduces the bytes.
    assert.equal(hex(encodeMessage(decoded)), hex(bytes), 're-encoding the decoded message');
    // 3. The message built from the JSON, with no length field anywhere, encodes to the same bytes.
    if (isConcrete(expected)) {
      assert.equal(hex(encodeMessage(expected as OfMessage)), hex(bytes), 'encoding the message built from JSON');
    } else {
      assert.ok(EXTENSION_VECTORS.has(name), `${name} has opaque parts (${notes.extensions.join(', ')}) but is not listed`);
    }
  });
}

test('the documented extension list is exactly the vectors with vendor extensions', () => {
  assert.deepEqual([...seenExtensions].sort(), [...EXTENSION_VECTORS].sort());
});

test('truncated vector is reported as OF_TRUNCATED', () => {
  // The shared copy of this file is empty (0 bytes), so it only exercises "no header"; the
  // second check cuts the full flow_mod at 64 bytes, as the file was meant to be.
  const file = new Uint8Array(readFileSync(`${PACKETS}libofproto-OFP13-flow_mod.truncated64`));
  assert.throws(() => decodeMessage(file), (e) => isScoreError(e, 'OF_TRUNCATED'));
  const full = new Uint8Array(readFileSync(`${PACKETS}libofproto-OFP13-flow_mod.packet`));
  assert.ok(full.length > 64, 'full.length > 64');
  assert.throws(
    () => decodeMessage(full.subarray(0, 64)),
    (e) => isScoreError(e, 'OF_TRUNCATED') && e.details.length === full.length && e.details.available === 64,
  );
  for (let cut = 0; cut < full.length; cut += 7) {
    assert.throws(() => decodeMessage(full.subarray(0, cut)), (e) => isScoreError(e, 'OF_TRUNCATED'), `cut at ${cut}`);
  }
});

// Ryu's ofctl library tests keep JSON for requests without wire bytes: build the message from
// the JSON, encode it, and require the decoding to be the same message.
const jsonOnly = readdirSync(JSON_DIR)
  .filter((f) => f.startsWith('lib-ofctl-'))
  .sort();

test('the JSON-only vectors are present (9 ofctl requests)', () => {
  assert.equal(jsonOnly.length, 9);
});
for (const name of jsonOnly) {
  test(`JSON-only vector ${name} survives encode/decode`, () => {
    const expected = fromRyu(parseJsonLossless(readFileSync(JSON_DIR + name, 'utf8')), 0);
    assert.ok(isConcrete(expected), 'isConcrete(expected)');
    const bytes = encodeMessage(expected as OfMessage);
    assertMatches(decodeMessage(bytes), expected);
  });
}

// Extra wire messages in a shared/ checkout beside the repository (absent in a plain clone, so
// never required): whatever this copy lacks must at least decode and re-encode byte for byte.
const extra = existsSync(SHARED_PACKETS)
  ? readdirSync(SHARED_PACKETS)
      .filter((f) => f.endsWith('.packet') && !wire.includes(f))
      .sort()
  : [];
for (const name of extra) {
  test(`extra shared vector ${name} round-trips`, () => {
    const bytes = new Uint8Array(readFileSync(SHARED_PACKETS + name));
    assert.equal(hex(encodeMessage(decodeMessage(bytes))), hex(bytes));
  });
}
