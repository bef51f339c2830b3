/**
 * Where a long-running command's log lines go: readable lines on a terminal (as always), JSON
 * objects (pino) when stdout is not a terminal (systemd journal, a log shipper, a pipe).
 *
 * Lines arrive as the commands already write them, `HH:MM:SS.mmm [LEVEL ]text`; in JSON mode the
 * stamp is dropped (pino writes `time`), the level word becomes `level`, the rest `msg`.
 * SCORE_LOG_FORMAT=json|text overrides the terminal check.
 */
import { pino, type Logger } from 'pino';

export type LineOut = (line: string) => void;

const LEVEL = /^(DEBUG|INFO|WARN|ERROR) /;
const STAMP = /^\d\d:\d\d:\d\d\.\d\d\d /;

export function wantJson(env: NodeJS.ProcessEnv = process.env, isTty: boolean = process.stdout.isTTY === true): boolean {
  const f = env.SCORE_LOG_FORMAT;
  if (f === 'json') return true;
  if (f === 'text') return false;
  return !isTty;
}

/** Parses one readable line into pino's level and message. */
export function splitLine(line: string): { level: 'debug' | 'info' | 'warn' | 'error'; msg: string } {
  let rest = line.replace(STAMP, '');
  const m = LEVEL.exec(rest);
  const level = m === null ? 'info' : (m[1] as string).toLowerCase() as 'debug' | 'info' | 'warn' | 'error';
  if (m !== null) rest = rest.slice(m[0].length);
  return { level, msg: rest };
}

/** A line writer for `name` (e.g. "score-controller"): console lines or pino JSON on stdout. */
export function consoleOut(name: string, json: boolean = wantJson(), logger?: Logger): LineOut {
  if (!json) return (line) => console.log(line);
  const log = logger ?? pino({ name, level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
  return (line) => {
    const { level, msg } = splitLine(line);
    log[level](msg);
  };
}
