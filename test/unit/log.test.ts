import { spawnSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, journalLine, maxBufferedLogBytes, stdoutIsJournal } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { destination, lines };
}

describe('journal log format', () => {
  it('puts each line behind the syslog priority of its level, the fields still JSON', () => {
    const { destination, lines } = capture();
    const logger = createLogger({ format: 'journal', level: 'debug', destination }).child({ node: 'ifw01' });
    logger.debug({ event: 'channel.debug' }, 'debug');
    logger.info({ event: 'role.change', reason: 'peer-dead' }, 'role.change BACKUP -> ACTIVE');
    logger.warn({ event: 'role.split-brain' }, 'both active');
    logger.error({ event: 'controller.action-failed' }, 'cannot claim');
    logger.fatal({ event: 'daemon.crash' }, 'internal error');
    expect(lines.map((line) => line.slice(0, 3))).toEqual(['<7>', '<6>', '<4>', '<3>', '<2>']);
    expect(JSON.parse(lines[1]!.slice(3))).toEqual({
      node: 'ifw01',
      event: 'role.change',
      reason: 'peer-dead',
      msg: 'role.change BACKUP -> ACTIVE',
    });
  });

  it('leaves a line it does not recognise as it is', () => {
    expect(journalLine('plain\n')).toBe('plain\n');
    expect(journalLine('{"level":50}\n')).toBe('<3>{}\n');
  });

  it('is chosen only when stdout is the stream $JOURNAL_STREAM names', () => {
    expect(stdoutIsJournal({})).toBe(false);
    expect(stdoutIsJournal({ JOURNAL_STREAM: '1:2' })).toBe(false);
    const { dev, ino } = fstatSync(1);
    expect(stdoutIsJournal({ JOURNAL_STREAM: `${dev}:${ino}` })).toBe(true);
  });
});

describe('logging to a descriptor', () => {
  it('neither blocks nor grows without bound when the reader stalls, and counts what it drops', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-log-'));
    const fifo = join(dir, 'journal');
    spawnSync('mkfifo', [fifo]);
    // a reader that never reads, as a stalled journald; the writer's end blocks once the pipe is full
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    let dropped = 0;
    try {
      const logger = createLogger({ format: 'journal', fd: writer, onDrop: () => (dropped += 1) });
      const line = 'x'.repeat(1000);
      const lines = (2 * maxBufferedLogBytes) / line.length;
      // synchronous writes would block here for good, and the test time out
      for (let i = 0; i < lines; i++) logger.info({ event: 'test.line', i }, line);
      expect(dropped).toBeGreaterThan(lines / 3);
      expect(dropped).toBeLessThan(lines);
    } finally {
      // the reader gone, the blocked write fails (EPIPE), which the logger swallows
      closeSync(reader);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
