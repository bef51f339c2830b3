// Test support: a switch that speaks raw OpenFlow bytes over real loopback TCP, driven step by
// step by the test, plus a recorder for the data plane's events.
import { type Socket, createConnection } from 'node:net';
import { encodeMessage } from '../encode.ts';
import { OfStreamParser } from '../stream.ts';
import type { FlowStats, MessageOf, OfMessage, OfMessageType, Port } from '../messages.ts';
import type { DataPlaneEvents, SwitchChannel } from '../../runtime/dataplane.ts';
import type { SwitchPortInfo } from '../../controller/discovery.ts';
import { OFPMPF } from '../constants.ts';
import { type OpenflowDataPlane, type OpenflowDataPlaneOptions, openflowDataPlane } from './dataplane.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(probe: () => T | undefined | false, what: string, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(3);
  }
}

export function port(no: number, extra: Partial<Port> = {}): Port {
  return {
    portNo: no,
    hwAddr: `02:00:00:00:00:${(no & 0xff).toString(16).padStart(2, '0')}`,
    name: `p${no}`,
    config: 0,
    state: 0,
    curr: 0,
    advertised: 0,
    supported: 0,
    peer: 0,
    currSpeed: 10_000,
    maxSpeed: 0,
    ...extra,
  };
}

export function flow(cookie: bigint, bytes = 0n): FlowStats {
  return {
    tableId: 0,
    durationSec: 1,
    durationNsec: 0,
    priority: 1,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    cookie,
    packetCount: 0n,
    byteCount: bytes,
    match: [],
    instructions: [],
  };
}

export class FakeSwitch {
  readonly inbox: OfMessage[] = [];
  private readonly parser = new OfStreamParser();
  closed = false;
  autoEcho = true;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      for (const item of this.parser.push(c)) {
        if (item.kind !== 'message') continue;
        const m = item.message;
        if (m.type === 'ECHO_REQUEST' && this.autoEcho) this.send({ type: 'ECHO_REPLY', xid: m.xid, data: m.data });
        else this.inbox.push(m);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static async connect(p: number): Promise<FakeSwitch> {
    const s = createConnection({ host: '127.0.0.1', port: p });
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new FakeSwitch(s);
  }

  /** Connects and completes the handshake as a 1.3 switch with these ports. */
  static async up(p: number, dpid: bigint, ports: Port[] = [port(1), port(2)]): Promise<FakeSwitch> {
    const sw = await FakeSwitch.connect(p);
    await sw.handshake(dpid, ports);
    return sw;
  }

  send(m: OfMessage): void {
    this.sendRaw(encodeMessage(m));
  }

  sendRaw(b: Uint8Array): void {
    if (!this.closed) this.socket.write(b);
  }

  async next<T extends OfMessageType>(type: T, ms = 3000, pred: (m: MessageOf<T>) => boolean = () => true): Promise<MessageOf<T>> {
    return until(
      () => {
        const i = this.inbox.findIndex((m) => m.type === type && pred(m as MessageOf<T>));
        if (i < 0) return undefined;
        return this.inbox.splice(i, 1)[0] as MessageOf<T>;
      },
      `${type} at the fake switch`,
      ms,
    );
  }

  async handshake(dpid: bigint, ports: Port[]): Promise<void> {
    this.send({ type: 'HELLO', xid: 1, elements: [{ type: 'VERSIONBITMAP', versions: [1, 4] }] });
    await this.next('HELLO');
    const fr = await this.next('FEATURES_REQUEST');
    this.send({ type: 'FEATURES_REPLY', xid: fr.xid, datapathId: dpid, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 });
    const pd = await this.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'PORT_DESC');
    this.send({ type: 'MULTIPART_REPLY', xid: pd.xid, flags: 0, body: { kind: 'PORT_DESC', ports } });
  }

  /** Answers the next FLOW stats request with these flows, `perPart` flows per REPLY_MORE part. */
  async answerFlowStats(flows: FlowStats[], perPart = flows.length || 1): Promise<void> {
    const rq = await this.next('MULTIPART_REQUEST', 3000, (m) => m.body.kind === 'FLOW');
    for (let i = 0; i < Math.max(1, flows.length); i += perPart) {
      const more = i + perPart < flows.length;
      this.send({ type: 'MULTIPART_REPLY', xid: rq.xid, flags: more ? OFPMPF.REPLY_MORE : 0, body: { kind: 'FLOW', flows: flows.slice(i, i + perPart) } });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export type PlaneEvent =
  | { type: 'up'; dpid: bigint; channel: SwitchChannel }
  | { type: 'down'; dpid: bigint }
  | { type: 'packet-in'; dpid: bigint; inPort: number; frame: Uint8Array }
  | { type: 'port-status'; dpid: bigint; port: SwitchPortInfo; reason: string }
  | { type: 'flow-removed'; dpid: bigint; cookie: bigint }
  | { type: 'flow-rejected'; dpid: bigint; cookie: bigint; error: string }
  | { type: 'flows-accepted'; dpid: bigint; cookies: readonly bigint[] };

export interface TestPlane {
  readonly plane: OpenflowDataPlane;
  readonly port: number;
  readonly events: PlaneEvent[];
  readonly logs: string[];
  channel(dpid: bigint): Promise<SwitchChannel>;
  stop(): Promise<void>;
}

export async function startPlane(o: OpenflowDataPlaneOptions = {}): Promise<TestPlane> {
  const events: PlaneEvent[] = [];
  const logs: string[] = [];
  const plane = openflowDataPlane({
    port: 0,
    host: '127.0.0.1',
    log: (level, message, details) => logs.push(`${level} ${message}${details ? ` ${JSON.stringify(details, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}` : ''}`),
    ...o,
  });
  const ev: DataPlaneEvents = {
    switchUp: (channel) => events.push({ type: 'up', dpid: channel.dpid, channel }),
    switchDown: (dpid) => events.push({ type: 'down', dpid }),
    packetIn: (dpid, inPort, frame) => events.push({ type: 'packet-in', dpid, inPort, frame }),
    portStatus: (dpid, p, reason) => events.push({ type: 'port-status', dpid, port: p, reason }),
    flowRemoved: (dpid, cookie) => events.push({ type: 'flow-removed', dpid, cookie }),
    flowRejected: (dpid, cookie, error) => events.push({ type: 'flow-rejected', dpid, cookie, error }),
    flowsAccepted: (dpid, cookies) => events.push({ type: 'flows-accepted', dpid, cookies }),
  };
  await plane.start(ev);
  return {
    plane,
    port: plane.address().port,
    events,
    logs,
    channel: (dpid) =>
      until(() => {
        const e = [...events].reverse().find((x) => (x.type === 'up' || x.type === 'down') && x.dpid === dpid);
        return e?.type === 'up' ? e.channel : undefined;
      }, `switch ${dpid} up`),
    stop: () => plane.stop(),
  };
}
