import { fstatSync } from 'node:fs';
import { destination as pinoDestination, pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** `journal`: JSON lines behind the syslog priority prefix journald's stdout stream reads. */
export const logFormats = ['json', 'journal', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LogOptions {
  format: LogFormat;
  level?: string;
  /** A stream to write to; without one, the descriptor `fd`. */
  destination?: NodeJS.WritableStream;
  /** Written asynchronously when no destination is given; default 1, stdout (the journal under systemd). */
  fd?: number;
  /** Called for each line dropped because the descriptor's reader does not keep up. */
  onDrop?: () => void;
}

/**
 * Lines held while the descriptor's reader (journald) is slow, at most. Node writes to a
 * pipe or socket on stdout synchronously, so a stalled journal would stall the event loop
 * and with it the heartbeats; these lines are written from libuv's thread pool instead,
 * and what does not fit is dropped and counted rather than held in unbounded memory.
 */
export const maxBufferedLogBytes = 4 * 1024 * 1024;

// pino's numeric levels as syslog priorities: trace and debug 7, info 6, warn 4, error 3, fatal 2.
const priorities: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const leadingLevel = /^\{"level":(\d+),?/;

/**
 * journald's stdout stream takes one entry per line with its priority as a `<N>`
 * prefix (SyslogLevelPrefix=, on by default); it has no way to carry fields, which
 * need the native protocol's datagram socket that Node cannot open. So the fields
 * stay in the line as JSON (`journalctl -o cat | jq`) and the priority, which
 * `journalctl -p` filters on, moves from the JSON into the prefix. journald stamps
 * the time and the PID itself.
 */
export function journalLine(line: string): string {
  const match = leadingLevel.exec(line);
  if (!match) return line;
  return `<${priorities[Number(match[1])] ?? 6}>{${line.slice(match[0].length)}`;
}

/**
 * Whether stdout is the journal: systemd sets $JOURNAL_STREAM to the device and inode
 * of the stream it connected, and a redirected stdout no longer matches it.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const { dev, ino } = fstatSync(1);
    return stream === `${dev}:${ino}`;
  } catch {
    return false;
  }
}

// Pretty printing runs in-process as a plain stream (not pino's worker-thread
// transport), so a log line is written before the next heartbeat is processed
// and the demo's output order is the order of events.
export function createLogger(options: LogOptions): Logger {
  const level = options.level ?? 'info';
  const destination = options.destination ?? descriptorStream(options.fd ?? 1, options.onDrop);
  switch (options.format) {
    case 'pretty':
      return pino({ level }, pretty({ destination, colorize: false, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
    case 'journal': {
      const journal: DestinationStream = { write: (line) => destination.write(journalLine(line)) };
      return pino({ level, base: undefined, timestamp: false }, journal);
    }
    case 'json':
      return pino({ level, base: { pid: process.pid } }, destination);
  }
}

/** An asynchronous, bounded writer on `fd`, flushed (blocking) when the process exits. */
function descriptorStream(fd: number, onDrop?: () => void): NodeJS.WritableStream {
  const stream = pinoDestination({ dest: fd, sync: false, maxLength: maxBufferedLogBytes });
  if (onDrop) stream.on('drop', onDrop);
  // a journal gone away (EPIPE) must not take the daemon and its heartbeats down with it
  stream.on('error', () => undefined);
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // nothing more can be done about the log at exit
    }
  });
  return stream as unknown as NodeJS.WritableStream;
}
