// Every kind of check against real listeners on loopback: what an operator sees in the
// log when a real server refuses, hangs, answers the wrong thing or its check program hangs.
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check, Probe } from '../../../src/health/check.js';
import { runCheck } from '../../../src/health/run-check.js';
import { compileExpectation } from '../../../src/lib/expectation.js';
import { expandProgram } from '../../../src/health/plan.js';
import { requireRoot } from '../../support/netns.js';

const loopback = '127.0.0.1';

async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, loopback, resolve));
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const check = (port: number, probe: Probe, timeout = 1000): Check => ({ target: { address: loopback, family: 4, port }, probe, timeout });
const expectation = (pattern: string, regex = false) => compileExpectation(pattern, regex);

describe('health checks against real servers', () => {
  const servers: Array<Server | HttpServer> = [];
  const sockets = new Set<Socket>();
  let udp: UdpSocket | undefined;
  let tmp: string;
  const ports = { web: 0, silent: 0, banner: 0, closer: 0, http: 0, https: 0, udp: 0, closed: 0 };

  beforeAll(async () => {
    requireRoot();
    tmp = mkdtempSync(join(tmpdir(), 'tandem-health-'));
    const track = (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    };
    // answers an HTTP/1.0 request like a web server, in two segments
    const web = createServer((socket) => {
      track(socket);
      socket.once('data', () => {
        socket.write('HTTP/1.0 200 OK\r\nServer: lab\r\n');
        setTimeout(() => socket.end('\r\n<html>tandem lab</html>'), 20);
      });
    });
    // accepts and never says anything
    const silent = createServer((socket) => track(socket));
    // an FTP-like banner right after accept, no request needed
    const banner = createServer((socket) => {
      track(socket);
      socket.write('220 lab FTP ready\r\n');
    });
    // closes as soon as it has read the request, without answering
    const closer = createServer((socket) => {
      track(socket);
      socket.once('data', () => socket.end());
    });
    const http = createHttpServer((request, response) => {
      if (request.url === '/health') return response.end('status: ok, build 42');
      if (request.url === '/slow') return; // never answers
      response.writeHead(503).end('maintenance');
    });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=www.example.test',
        '-keyout',
        join(tmp, 'key.pem'),
        '-out',
        join(tmp, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const https = createHttpsServer(
      { key: readFileSync(join(tmp, 'key.pem')), cert: readFileSync(join(tmp, 'cert.pem')) },
      (request, response) => response.end(`host=${request.headers.host}`),
    );
    servers.push(web, silent, banner, closer, http, https);
    ports.web = await listen(web);
    ports.silent = await listen(silent);
    ports.banner = await listen(banner);
    ports.closer = await listen(closer);
    ports.http = await listen(http);
    ports.https = await listen(https);
    http.on('connection', track);
    const echo = createSocket('udp4');
    udp = echo;
    echo.on('message', (message, peer) => echo.send(message.toString() === 'ping' ? 'pong' : 'what?', peer.port, peer.address));
    await new Promise<void>((resolve) => echo.bind(0, loopback, resolve));
    ports.udp = echo.address().port;
    ports.closed = await closedPort();
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    udp?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe('TCP connect', () => {
    it('passes when the port accepts', async () => {
      expect(await runCheck(check(ports.silent, { kind: 'stream' }))).toMatchObject({ outcome: 'pass', message: 'connected' });
    });

    it('fails as refused on a closed port', async () => {
      expect(await runCheck(check(ports.closed, { kind: 'stream' }))).toMatchObject({
        outcome: 'fail',
        reason: 'refused',
        message: 'connection refused',
      });
    });
  });

  describe("send/expect (Piranha's send/expect, seed 001)", () => {
    const piranha = { kind: 'stream', send: 'GET / HTTP/1.0\r\n\r\n', expect: expectation('HTTP') } as const;

    it('passes when the answer contains the expected string', async () => {
      expect(await runCheck(check(ports.web, piranha))).toMatchObject({ outcome: 'pass', message: 'received "HTTP"' });
    });

    it('reads on until the expectation matches (answer in several segments)', async () => {
      const result = await runCheck(check(ports.web, { ...piranha, expect: expectation('tandem lab') }));
      expect(result).toMatchObject({ outcome: 'pass', received: expect.stringContaining('<html>tandem lab</html>') as unknown });
    });

    it('fails as an expect mismatch with what was received when the server closes without it', async () => {
      const result = await runCheck(check(ports.web, { ...piranha, expect: expectation('HTTP/1.1 200') }));
      expect(result).toEqual({
        outcome: 'fail',
        reason: 'expect-mismatch',
        message: 'server closed the connection before "HTTP/1.1 200" arrived',
        received: 'HTTP/1.0 200 OK\\r\\nServer: lab\\r\\n\\r\\n<html>tandem lab</html>',
        durationMs: expect.any(Number) as unknown,
      });
    });

    it('fails as a timeout when the server accepts but never answers', async () => {
      const result = await runCheck(check(ports.silent, piranha, 300));
      expect(result).toMatchObject({ outcome: 'fail', reason: 'timeout', message: '"HTTP" not received within 300 ms' });
      expect(result.durationMs).toBeGreaterThanOrEqual(299);
      expect(result.durationMs).toBeLessThan(1000);
    });

    it('fails when the server closes after the request without answering', async () => {
      expect(await runCheck(check(ports.closer, piranha))).toMatchObject({ outcome: 'fail', reason: 'expect-mismatch', received: '' });
    });

    it('with use_regex matches a regular expression; a banner needs no send', async () => {
      expect(await runCheck(check(ports.banner, { kind: 'stream', expect: expectation('^220 .*ready', true) }))).toMatchObject({
        outcome: 'pass',
      });
      expect(await runCheck(check(ports.web, { ...piranha, expect: expectation('^HTTP/1\\.[01] [23]\\d\\d', true) }))).toMatchObject({
        outcome: 'pass',
      });
      const mismatch = await runCheck(check(ports.banner, { kind: 'stream', expect: expectation('^530', true) }, 300));
      expect(mismatch).toMatchObject({
        outcome: 'fail',
        reason: 'timeout',
        message: '/^530/ not received within 300 ms',
        received: '220 lab FTP ready\\r\\n',
      });
    });

    it('send without expect passes once the request is written', async () => {
      expect(await runCheck(check(ports.silent, { kind: 'stream', send: 'QUIT\r\n' }))).toMatchObject({
        outcome: 'pass',
        message: 'connected, sent 6 bytes',
      });
    });
  });

  describe('UDP send/expect', () => {
    it('passes on a matching reply, fails on a wrong one', async () => {
      expect(await runCheck(check(ports.udp, { kind: 'datagram', send: 'ping', expect: expectation('pong') }))).toMatchObject({
        outcome: 'pass',
        received: 'pong',
      });
      expect(await runCheck(check(ports.udp, { kind: 'datagram', send: 'hello', expect: expectation('pong') }))).toMatchObject({
        outcome: 'fail',
        reason: 'expect-mismatch',
        received: 'what?',
      });
    });

    it('fails as refused on ICMP port unreachable', async () => {
      expect(await runCheck(check(ports.closed, { kind: 'datagram', send: 'ping' }))).toMatchObject({ outcome: 'fail', reason: 'refused' });
    });
  });

  describe('HTTP GET', () => {
    const get = (path: string, status = 200, body?: string) =>
      ({ kind: 'http', path, status, tls: false, ...(body ? { body: expectation(body, true) } : {}) }) as const;

    it('passes on the expected status, and on a matching body regex', async () => {
      expect(await runCheck(check(ports.http, get('/health')))).toMatchObject({ outcome: 'pass', status: 200, message: 'HTTP 200 OK' });
      expect(await runCheck(check(ports.http, get('/health', 200, 'build \\d+')))).toMatchObject({
        outcome: 'pass',
        message: 'HTTP 200 OK, body matches /build \\d+/',
      });
      expect(await runCheck(check(ports.http, get('/', 503)))).toMatchObject({ outcome: 'pass', status: 503 });
    });

    it('fails on another status, naming both', async () => {
      expect(await runCheck(check(ports.http, get('/')))).toMatchObject({
        outcome: 'fail',
        reason: 'bad-status',
        status: 503,
        message: 'HTTP 503 Service Unavailable, expected 200',
      });
    });

    it('fails when the body does not match, with what it was', async () => {
      expect(await runCheck(check(ports.http, get('/health', 200, 'status: degraded')))).toMatchObject({
        outcome: 'fail',
        reason: 'expect-mismatch',
        received: 'status: ok, build 42',
      });
    });

    it('fails as a timeout when no response comes', async () => {
      expect(await runCheck(check(ports.http, get('/slow'), 300))).toMatchObject({
        outcome: 'fail',
        reason: 'timeout',
        message: 'timed out after 300 ms waiting for the response',
      });
    });

    it('fails as a bad response when the server does not speak HTTP', async () => {
      expect(await runCheck(check(ports.banner, get('/')))).toMatchObject({ outcome: 'fail', reason: 'bad-response' });
    });

    it('speaks HTTPS (certificate not verified) and sends the configured Host', async () => {
      const probe = {
        kind: 'http',
        path: '/',
        status: 200,
        tls: true,
        host: 'www.example.test',
        body: expectation('host=www\\.example\\.test', true),
      } as const;
      expect(await runCheck(check(ports.https, probe))).toMatchObject({ outcome: 'pass' });
      expect(await runCheck(check(ports.http, { ...probe }))).toMatchObject({ outcome: 'fail', reason: 'bad-response' });
    });
  });

  describe('IPv6', () => {
    it('connects, exchanges and speaks HTTP to a real server on ::1 (Host in brackets)', async () => {
      const web6 = createHttpServer((request, response) => response.end(`host=${request.headers.host}`));
      await new Promise<void>((resolve) => web6.listen(0, '::1', resolve));
      const port = (web6.address() as { port: number }).port;
      const target = { address: '::1', family: 6 as const, port };
      try {
        expect(await runCheck({ target, probe: { kind: 'stream' }, timeout: 1000 })).toMatchObject({ outcome: 'pass' });
        const exchange = { kind: 'stream', send: 'GET / HTTP/1.0\r\n\r\n', expect: expectation('HTTP/1.1 200') } as const;
        expect(await runCheck({ target, probe: exchange, timeout: 1000 })).toMatchObject({ outcome: 'pass' });
        const get = { kind: 'http', path: '/', status: 200, tls: false, body: expectation(`host=\\[::1\\]:${port}`, true) } as const;
        expect(await runCheck({ target, probe: get, timeout: 1000 })).toMatchObject({ outcome: 'pass' });
      } finally {
        web6.closeAllConnections();
        await new Promise((resolve) => web6.close(resolve));
      }
    });
  });

  describe('send_program', () => {
    const program = (command: string, port = ports.web, expect?: string) =>
      ({ kind: 'program', command: expandProgram(command, loopback, port), ...(expect ? { expect: expectation(expect) } : {}) }) as const;

    it('exit 0 is up, with %h replaced by the real server address', async () => {
      expect(await runCheck(check(ports.web, program('test "%h" = 127.0.0.1')))).toMatchObject({
        outcome: 'pass',
        message: 'program exited 0',
      });
    });

    it('a non-zero exit is down, with the status and the output', async () => {
      const result = await runCheck(check(ports.web, program('echo "no route to %h:%p" >&2; exit 2')));
      expect(result).toMatchObject({
        outcome: 'fail',
        reason: 'exit-status',
        exitCode: 2,
        message: 'program exited 2',
        received: `no route to 127.0.0.1:${ports.web}`,
      });
    });

    it("with expect, the output decides (Piranha's convention: the script prints OK or FAIL)", async () => {
      // a real check through the server: the program talks HTTP to %h itself
      const script = `exec 3<>/dev/tcp/%h/%p && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && if grep -q 'tandem lab' <&3; then echo OK; else echo FAIL; fi`;
      expect(await runCheck(check(ports.web, { ...program(`bash -c "${script}"`, ports.web, 'OK') }))).toMatchObject({
        outcome: 'pass',
        message: 'program printed "OK"',
      });
      expect(await runCheck(check(ports.http, { ...program(`bash -c "${script}"`, ports.http, 'OK') }))).toMatchObject({
        outcome: 'fail',
        reason: 'expect-mismatch',
        received: 'FAIL',
      });
    });

    it('a program that hangs past the timeout is killed with everything it started', async () => {
      const pidFile = join(tmp, 'hung.pid');
      const result = await runCheck(check(ports.web, program(`sleep 30 & echo $! > ${pidFile}; wait`)), undefined);
      expect(result).toMatchObject({ outcome: 'fail', reason: 'timeout', message: 'program did not finish within 1000 ms and was killed' });
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      expect(await gone(grandchild)).toBe(true);
    });

    it('aborting a check kills its program at once', async () => {
      const pidFile = join(tmp, 'aborted.pid');
      const controller = new AbortController();
      const pending = runCheck(check(ports.web, program(`echo $$ > ${pidFile}; exec sleep 30`), 10_000), controller.signal);
      await waitFor(() => readFileSync(pidFile, 'utf8').trim() !== '');
      controller.abort();
      expect(await pending).toMatchObject({ outcome: 'inconclusive', reason: 'cancelled' });
      expect(await gone(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
    });
  });
});

/** True once `pid` no longer exists (or is a zombie about to be reaped), within 2 s. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    let state: string;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '';
    } catch {
      return true;
    }
    if (state === 'Z') return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (condition()) return;
    } catch {
      // not there yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not met within 2 s');
}
