/**
 * A QMP client: QEMU's machine protocol (docs/interop/qmp-spec), JSON objects separated by CRLF
 * over a unix socket. The server speaks first (`{"QMP": {...}}` greeting), the client leaves
 * capabilities negotiation with `qmp_capabilities`, then sends `{"execute", "arguments", "id"}`
 * and gets `{"return", "id"}` or `{"error": {"class", "desc"}, "id"}`; asynchronous
 * `{"event", "data", "timestamp"}` objects may arrive at any time in between.
 *
 * No npm package fits (none typed and kept for Node); the protocol is a dozen lines of framing.
 * parseQmpLines is pure and tested on its own; QmpClient is the socket shell around it.
 */
import { connect, type Socket } from 'node:net';
import { ScoreError } from '../errors/errors.ts';

export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
  readonly timestamp?: { seconds: number; microseconds: number };
}

export type QmpMessage =
  | { readonly kind: 'greeting'; readonly version: unknown }
  | { readonly kind: 'return'; readonly id: unknown; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: unknown; readonly class: string; readonly desc: string }
  | { readonly kind: 'event'; readonly event: QmpEvent };

/**
 * Splits a receive buffer into complete messages and the unfinished rest. Pure.
 * @throws ScoreError QMP_PROTOCOL for a line that is not a JSON object QMP defines
 */
export function parseQmpLines(buffer: string): { messages: QmpMessage[]; rest: string } {
  const messages: QmpMessage[] = [];
  let start = 0;
  for (let nl = buffer.indexOf('\n', start); nl >= 0; nl = buffer.indexOf('\n', start)) {
    const line = buffer.slice(start, nl).trim();
    start = nl + 1;
    if (line === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new ScoreError('QMP_PROTOCOL', `QMP sent a line that is not JSON: ${line.slice(0, 120)}`, {}, { cause: e });
    }
    if (typeof o !== 'object' || o === null) throw new ScoreError('QMP_PROTOCOL', `QMP sent a non-object: ${line.slice(0, 120)}`);
    if ('QMP' in o) messages.push({ kind: 'greeting', version: (o.QMP as { version?: unknown } | null)?.version });
    else if ('return' in o) messages.push({ kind: 'return', id: o.id, value: o.return });
    else if ('error' in o) {
      const err = o.error as { class?: unknown; desc?: unknown } | null;
      const text = (v: unknown, dflt: string): string => (typeof v === 'string' ? v : dflt);
      messages.push({ kind: 'error', id: o.id, class: text(err?.class, 'GenericError'), desc: text(err?.desc, '') });
    } else if (typeof o.event === 'string') messages.push({ kind: 'event', event: o as unknown as QmpEvent });
    else throw new ScoreError('QMP_PROTOCOL', `QMP sent an object of no known kind: ${line.slice(0, 120)}`);
  }
  return { messages, rest: buffer.slice(start) };
}

export interface QmpClient {
  /**
   * Runs a command and resolves with its `return` value.
   * @throws ScoreError QMP_PROTOCOL with QEMU's error class and description, or when the socket
   *   closes first, or after `timeoutMs` (default 30 s)
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** every event from now on; returns an unsubscribe function */
  onEvent(listener: (e: QmpEvent) => void): () => void;
  /** resolves when the socket closed (QEMU exited or close() was called) */
  readonly closed: Promise<void>;
  close(): void;
}

/**
 * Connects to a QMP unix socket, reads the greeting, and negotiates capabilities.
 * @throws ScoreError QMP_PROTOCOL when the socket refuses or the greeting does not come in time
 */
export async function connectQmp(path: string, timeoutMs = 10_000): Promise<QmpClient> {
  const socket: Socket = connect(path);
  let buffer = '';
  let nextId = 1;
  let dead: ScoreError | undefined;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: ScoreError) => void; timer: NodeJS.Timeout }>();
  const listeners = new Set<(e: QmpEvent) => void>();
  let greeted: () => void = () => undefined;
  const greeting = new Promise<void>((r) => (greeted = r));
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((r) => (closedResolve = r));

  const fail = (e: ScoreError): void => {
    dead ??= e;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    pending.clear();
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    let parsed: ReturnType<typeof parseQmpLines>;
    try {
      parsed = parseQmpLines(buffer + chunk);
    } catch (e) {
      fail(e as ScoreError);
      socket.destroy();
      return;
    }
    buffer = parsed.rest;
    for (const m of parsed.messages) {
      if (m.kind === 'greeting') greeted();
      else if (m.kind === 'event') for (const l of listeners) l(m.event);
      else {
        const p = typeof m.id === 'number' ? pending.get(m.id) : undefined;
        if (p === undefined) continue;
        pending.delete(m.id as number);
        clearTimeout(p.timer);
        if (m.kind === 'return') p.resolve(m.value);
        else p.reject(new ScoreError('QMP_PROTOCOL', `QMP: ${m.class}: ${m.desc}`, { class: m.class, desc: m.desc }));
      }
    }
  });
  socket.on('error', (e) => fail(new ScoreError('QMP_PROTOCOL', `QMP socket ${path}: ${e.message}`, { path }, { cause: e })));
  socket.on('close', () => {
    fail(new ScoreError('QMP_PROTOCOL', `QMP socket ${path} closed`, { path }));
    closedResolve();
  });

  const execute = <T>(command: string, args?: Record<string, unknown>, ms = 30_000): Promise<T> => {
    if (dead !== undefined) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new ScoreError('QMP_PROTOCOL', `QMP ${command} got no answer in ${ms} ms`, { command }));
      }, ms);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      socket.write(`${JSON.stringify({ execute: command, ...(args === undefined ? {} : { arguments: args }), id })}\r\n`);
    });
  };

  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new ScoreError('QMP_PROTOCOL', `no QMP greeting on ${path} within ${timeoutMs} ms`, { path })), timeoutMs);
    void greeting.then(() => clearTimeout(t));
    void closed.then(() => {
      clearTimeout(t);
      reject(dead ?? new ScoreError('QMP_PROTOCOL', `QMP socket ${path} closed`, { path }));
    });
  });
  try {
    await Promise.race([greeting, timeout]);
    await execute('qmp_capabilities', undefined, timeoutMs);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return {
    execute,
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    closed,
    close: () => socket.destroy(),
  };
}
