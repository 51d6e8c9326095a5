import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  format: LogFormat;
  level?: string;
  /** Defaults to stdout (the journal under systemd). */
  destination?: NodeJS.WritableStream;
}

// Pretty printing runs in-process as a plain stream (not pino's worker-thread
// transport), so a log line is written before the next heartbeat is processed
// and the demo's output order is the order of events.
export function createLogger(options: LogOptions): Logger {
  const level = options.level ?? 'info';
  const destination = options.destination ?? process.stdout;
  if (options.format === 'pretty') {
    return pino({ level }, pretty({ destination, colorize: false, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { pid: process.pid } }, destination);
}
