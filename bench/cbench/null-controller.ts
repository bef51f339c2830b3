/**
 * The least an OpenFlow 1.3 controller can do per packet-in, in Node: HELLO and FEATURES_REQUEST
 * on connect, then every PACKET_IN answered by a PACKET_OUT of its frame to port 1, built from raw
 * bytes, one socket write per received chunk; no flow-mods, no state. It is not a controller: it
 * is the bench's reference for what one Node event loop can answer under this generator (the
 * ceiling any Node controller, S-CORE included, can reach here), next to ovs-testcontroller (C).
 *
 *   node --import tsx bench/cbench/null-controller.ts PORT
 */
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 6653);
const T = { HELLO: 0, ECHO_REQUEST: 2, ECHO_REPLY: 3, FEATURES_REQUEST: 5, PACKET_IN: 10, PACKET_OUT: 13 } as const;

function header(type: number, len: number, xid: number): Buffer {
  const b = Buffer.alloc(len);
  b[0] = 4;
  b[1] = type;
  b.writeUInt16BE(len, 2);
  b.writeUInt32BE(xid, 4);
  return b;
}

createServer((s) => {
  s.setNoDelay(true);
  s.write(Buffer.concat([header(T.HELLO, 8, 1), header(T.FEATURES_REQUEST, 8, 2)]));
  let rest: Buffer | undefined;
  s.on('data', (chunk: Buffer) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    const out: Buffer[] = [];
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt16BE(off + 2);
      if (len < 8) return void s.destroy();
      if (buf.length - off < len) break;
      const type = buf[off + 1];
      if (type === T.PACKET_IN) {
        // match length at 26, padded to 8; 2 bytes pad; then the frame
        const matchLen = buf.readUInt16BE(off + 26);
        const data = off + 24 + Math.ceil(matchLen / 8) * 8 + 2;
        const dataLen = off + len - data;
        const po = header(T.PACKET_OUT, 40 + dataLen, 0);
        po.writeUInt32BE(0xffffffff, 8); // no buffer
        po.writeUInt32BE(0xfffffffd, 12); // in_port CONTROLLER
        po.writeUInt16BE(16, 16); // actions length
        po.writeUInt16BE(0, 24); // OUTPUT
        po.writeUInt16BE(16, 26);
        po.writeUInt32BE(1, 28); // port 1
        buf.copy(po, 40, data, off + len);
        out.push(po);
      } else if (type === T.ECHO_REQUEST) {
        const r = Buffer.from(buf.subarray(off, off + len));
        r[1] = T.ECHO_REPLY;
        out.push(r);
      }
      off += len;
    }
    if (off < buf.length) rest = Buffer.from(buf.subarray(off));
    if (out.length > 0) s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  });
  s.on('error', () => undefined);
}).listen(port, '127.0.0.1');
