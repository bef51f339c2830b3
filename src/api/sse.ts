import type { FastifyReply } from 'fastify';
import type { ControllerService, NorthEvent } from './contract.ts';
import { NorthEventDto } from './contract.ts';

/** Every event type the stream can carry, read from the contract so the two cannot drift. */
export const NORTH_EVENT_TYPES: readonly NorthEvent['type'][] = NorthEventDto.properties.type.anyOf.map((s) => s.const);

export interface EventStreamOptions {
  readonly heartbeatMs: number;
  /**
   * A client that stops reading makes the socket buffer grow without bound; past this many queued
   * bytes the stream is closed and the client can reconnect.
   */
  readonly maxBufferedBytes: number;
}

/** One SSE frame. JSON.stringify never emits a raw newline, so `data:` stays a single line. */
export function formatEvent(e: NorthEvent): string | null {
  let json: string;
  try {
    json = JSON.stringify(e);
  } catch {
    return null;
  }
  // The type comes from the service; a newline in it would forge extra SSE fields.
  const type = String(e.type).replace(/[\r\n]/g, '');
  return `event: ${type}\ndata: ${json}\n\n`;
}

/**
 * Opens a server-sent event stream on a hijacked reply. Subscribes first so a service failure
 * still goes through the normal error path, then takes over the socket. Returns the function that
 * closes the stream; it runs on its own when the client goes away.
 */
export function openEventStream(
  reply: FastifyReply,
  service: ControllerService,
  types: ReadonlySet<string> | null,
  options: EventStreamOptions,
): () => void {
  const res = reply.raw;
  let ready = false;
  let closed = false;

  function send(chunk: string): void {
    if (!ready || closed) return;
    res.write(chunk);
    if (res.writableLength > options.maxBufferedBytes) {
      close();
      res.destroy();
    }
  }

  const unsubscribe = service.subscribe((e) => {
    if (types !== null && !types.has(e.type)) return;
    const frame = formatEvent(e);
    if (frame !== null) send(frame);
  });

  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and similar proxies buffer responses unless told not to, which would stall events.
    'x-accel-buffering': 'no',
  });
  ready = true;
  // An early byte makes clients (fetch, EventSource) see the stream open before the first event.
  res.write(': connected\n\n');
  const timer = setInterval(() => send(': heartbeat\n\n'), options.heartbeatMs);

  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    try {
      unsubscribe();
    } finally {
      if (!res.writableEnded) res.end();
    }
  }

  // ServerResponse 'close' fires when the connection goes away; IncomingMessage 'close' fires as
  // soon as the (empty) request body is read, which would end the stream at once.
  res.once('close', close);
  res.once('error', close);
  return close;
}
