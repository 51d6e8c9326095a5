// TCP connect and Piranha's send/expect over TCP or UDP.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { runAttempt } from './attempt.js';
import { MAX_RECEIVED_BYTES, type CheckTarget } from './check.js';
import type { Expectation } from '../lib/expectation.js';
import { printable } from '../lib/printable.js';
import { ReceivedBytes } from './received.js';
import { socketErrorResult, type CheckResult } from './result.js';

interface Exchange {
  send?: string;
  expect?: Expectation;
}

/**
 * Connects; without `expect` the check passes once connected and `send` (if any) is
 * written. With `expect` it reads until the answer matches, the server closes, or the
 * timeout — a partial answer is kept as evidence.
 */
export function checkStream(target: CheckTarget, exchange: Exchange, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
  let connected = false;
  const received = new ReceivedBytes(exchange.expect);
  const evidence = () => (received.length > 0 ? { received: printable(received.text()) } : {});
  const onTimeout = (durationMs: number): CheckResult => ({
    outcome: 'fail',
    reason: 'timeout',
    message: !connected
      ? `no connection within ${timeoutMs} ms`
      : exchange.expect
        ? `${exchange.expect.description} not received within ${timeoutMs} ms`
        : `could not send within ${timeoutMs} ms`,
    durationMs,
    ...evidence(),
  });
  return runAttempt(timeoutMs, signal, onTimeout, (attempt) => {
    const { send, expect } = exchange;
    const socket = connect({ host: target.address, port: target.port, family: target.family, noDelay: true });
    attempt.onSettle(() => socket.destroy());
    const pass = (message: string) => attempt.settle({ outcome: 'pass', message, durationMs: attempt.elapsed(), ...evidence() });
    socket.on('error', (error) => attempt.settle(socketErrorResult(error, attempt.elapsed(), evidence())));
    socket.on('connect', () => {
      connected = true;
      if (expect) {
        if (send !== undefined) socket.write(send);
      } else if (send === undefined) {
        pass('connected');
      } else {
        socket.write(send, () => pass(`connected, sent ${Buffer.byteLength(send)} bytes`));
      }
    });
    if (!expect) return;
    socket.on('data', (chunk: Buffer) => {
      if (received.add(chunk)) {
        pass(`received ${expect.description}`);
        return;
      }
      if (received.full) {
        attempt.settle(mismatch(`${expect.description} not in the first ${MAX_RECEIVED_BYTES} bytes`));
      }
    });
    socket.on('end', () => attempt.settle(mismatch(`server closed the connection before ${expect.description} arrived`)));
    function mismatch(message: string): CheckResult {
      return {
        outcome: 'fail',
        reason: 'expect-mismatch',
        message,
        durationMs: attempt.elapsed(),
        received: printable(received.text()),
      };
    }
  });
}

/**
 * UDP: sends `send` (an empty datagram without it) and waits. A reply passes (when it
 * matches `expect`); an ICMP port unreachable fails as refused. Silence until the
 * timeout fails only when `expect` asks for an answer: a UDP service need not reply to
 * a probe, and without a reply its absence cannot be told from its presence.
 */
export function checkDatagram(target: CheckTarget, exchange: Exchange, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
  const { send, expect } = exchange;
  const onTimeout = (durationMs: number): CheckResult =>
    expect
      ? { outcome: 'fail', reason: 'timeout', message: `no reply within ${timeoutMs} ms`, durationMs }
      : { outcome: 'pass', message: `no reply and no ICMP unreachable within ${timeoutMs} ms`, durationMs };
  return runAttempt(timeoutMs, signal, onTimeout, (attempt) => {
    const socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
    attempt.onSettle(() => closeQuietly(socket));
    socket.on('error', (error) => attempt.settle(socketErrorResult(error, attempt.elapsed())));
    socket.on('message', (message) => {
      const text = message.toString('utf8');
      const durationMs = attempt.elapsed();
      if (!expect) {
        attempt.settle({ outcome: 'pass', message: 'reply received', durationMs, received: printable(text) });
        return;
      }
      attempt.settle(
        expect.matches(text)
          ? { outcome: 'pass', message: `received ${expect.description}`, durationMs, received: printable(text) }
          : {
              outcome: 'fail',
              reason: 'expect-mismatch',
              message: `reply without ${expect.description}`,
              durationMs,
              received: printable(text),
            },
      );
    });
    socket.connect(target.port, target.address, () => {
      if (!attempt.settled) socket.send(send ?? Buffer.alloc(0));
    });
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed by an error
  }
}
