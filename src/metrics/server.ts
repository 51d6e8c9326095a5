// `GET /metrics` on the configured address, and nothing else: no request body is read,
// requests and idle connections time out fast and connections are capped, so a scraper
// (or anything else that connects) cannot hold the daemon's event loop or memory.
import { createServer, type Server } from 'node:http';
import type { MetricsCollector } from './collector.js';

export interface MetricsListen {
  host: string;
  port: number;
}

const maxConnections = 16;
const requestTimeoutMs = 5000;

export class MetricsServer {
  private constructor(private readonly server: Server) {}

  static async start(listen: MetricsListen, collector: MetricsCollector): Promise<MetricsServer> {
    const server = createServer(
      { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, keepAliveTimeout: 1000 },
      (request, response) => {
        const path = (request.url ?? '').split('?')[0];
        if (path !== '/metrics') {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('tandem serves /metrics only\n');
          return;
        }
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
          return;
        }
        collector.metrics().then(
          (text) => response.writeHead(200, { 'content-type': collector.contentType }).end(request.method === 'HEAD' ? undefined : text),
          (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
        );
      },
    );
    server.maxConnections = maxConnections;
    server.timeout = requestTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new MetricsServer(server);
  }

  /** The address and port it listens on (the port the kernel chose for port 0). */
  get address(): MetricsListen {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the metrics server is not listening');
    return { host: address.address, port: address.port };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
