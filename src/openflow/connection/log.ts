/** What the connection layer reports, leveled so the CLI can show info and up and tests can collect everything. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type OfLog = (level: LogLevel, message: string, details?: Record<string, unknown>) => void;

export const silentLog: OfLog = () => undefined;

/** Bytes as hex, capped so a huge malformed message cannot flood a log line. */
export function hex(bytes: Uint8Array, max = 256): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString('hex');
  return bytes.length > max ? `${s}...(${bytes.length} bytes)` : s;
}
