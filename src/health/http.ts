// HTTP(S) GET with an expected status and optionally a regular expression the body must match
// (keepalived's HTTP_GET/SSL_GET, ldirectord's `request`/`receive`).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { runAttempt } from './attempt.js';
import { MAX_RECEIVED_BYTES, type CheckTarget, type Probe } from './check.js';
import { printable } from '../lib/printable.js';
import { ReceivedBytes } from './received.js';
import { socketErrorResult, type CheckResult } from './result.js';

type HttpProbe = Extract<Probe, { kind: 'http' }>;

export function checkHttp(target: CheckTarget, probe: HttpProbe, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
  let phase: 'connecting' | 'waiting for the response' | 'reading the body' = 'connecting';
  const onTimeout = (durationMs: number): CheckResult => ({
    outcome: 'fail',
    reason: 'timeout',
    message: `timed out after ${timeoutMs} ms ${phase}`,
    durationMs,
  });
  return runAttempt(timeoutMs, signal, onTimeout, (attempt) => {
    const request = (probe.tls ? httpsRequest : httpRequest)({
      host: target.address,
      family: target.family,
      port: target.port,
      path: probe.path,
      method: 'GET',
      headers: { Host: hostHeader(target, probe), 'User-Agent': 'tandem-health-check', Accept: '*/*', Connection: 'close' },
      agent: false,
      // Real servers behind a VIP usually present the VIP's certificate (or a self-signed
      // one); the check is about the service answering, not about the certificate.
      rejectUnauthorized: false,
      ...(probe.tls && probe.host && isIP(probe.host) === 0 ? { servername: probe.host } : {}),
    });
    attempt.onSettle(() => request.destroy());
    request.on('socket', (socket) => socket.once('connect', () => (phase = 'waiting for the response')));
    request.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      attempt.settle(
        code.startsWith('HPE_') || code.startsWith('ERR_SSL') || code === 'EPROTO'
          ? {
              outcome: 'fail',
              reason: 'bad-response',
              message: `not a valid HTTP${probe.tls ? 'S' : ''} response: ${error.message}`,
              durationMs: attempt.elapsed(),
            }
          : socketErrorResult(error, attempt.elapsed()),
      );
    });
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const statusLine = `HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`;
      if (!statusAccepted(probe, status)) {
        attempt.settle({
          outcome: 'fail',
          reason: 'bad-status',
          message: `${statusLine}, expected ${expectedStatus(probe)}`,
          durationMs: attempt.elapsed(),
          status,
        });
        return;
      }
      const { body, digest } = probe;
      const pass = (what?: string): CheckResult => ({
        outcome: 'pass',
        message: what !== undefined ? `${statusLine}, ${what}` : statusLine,
        durationMs: attempt.elapsed(),
        status,
      });
      if (!body && !digest) {
        attempt.settle(pass());
        return;
      }
      phase = 'reading the body';
      const received = new ReceivedBytes(body);
      const mismatch = (message: string): CheckResult => ({
        outcome: 'fail',
        reason: 'expect-mismatch',
        message,
        durationMs: attempt.elapsed(),
        status,
        received: printable(received.text()),
      });
      const description = body?.description ?? '';
      response.on('data', (chunk: Buffer) => {
        const matched = received.add(chunk);
        // A digest needs the whole body; a pattern alone can settle on the first match.
        if (!digest && matched) attempt.settle(pass(`body matches ${description}`));
        else if (received.full) attempt.settle(mismatch(`body does not match ${description} in its first ${MAX_RECEIVED_BYTES} bytes`));
      });
      response.on('end', () => {
        const actual = digest ? createHash('md5').update(received.bytes()).digest('hex') : undefined;
        if (actual !== digest) attempt.settle(mismatch(`body digest ${actual ?? ''}, expected ${digest ?? ''}`));
        else if (body && !received.matched) attempt.settle(mismatch(`body does not match ${description}`));
        else attempt.settle(pass(`body ${body ? `matches ${description}` : `digest ${digest ?? ''}`}`));
      });
      response.on('error', (error: NodeJS.ErrnoException) => attempt.settle(socketErrorResult(error, attempt.elapsed())));
    });
    request.end();
  });
}

function statusAccepted(probe: HttpProbe, status: number): boolean {
  return probe.statusCodes ? probe.statusCodes.some((range) => status >= range.from && status <= range.to) : status === probe.status;
}

function expectedStatus(probe: HttpProbe): string {
  if (!probe.statusCodes) return String(probe.status);
  return probe.statusCodes.map((range) => (range.from === range.to ? String(range.from) : `${range.from}-${range.to}`)).join(' or ');
}

function hostHeader(target: CheckTarget, probe: HttpProbe): string {
  if (probe.host) return probe.host;
  const host = target.family === 6 ? `[${target.address}]` : target.address;
  return target.port === (probe.tls ? 443 : 80) ? host : `${host}:${target.port}`;
}
