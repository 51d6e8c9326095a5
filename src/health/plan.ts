// From the model to what the monitor checks: one planned entry per real server of every
// virtual service, with its compiled check (or why it is not checked).
import type { HealthCheckSpec, Milliseconds, Model, RealServer, VirtualService } from '../config/model.js';
import type { Check, Probe } from './check.js';
import { compileExpectation } from '../lib/expectation.js';
import { ShardedMap } from '../lib/sharded-map.js';
import type { HealthPolicy } from './state.js';

export interface PlannedServer {
  /** Stable identity across reloads: the IPVS service and the real server's address and port. */
  key: string;
  service: VirtualService;
  server: RealServer;
  policy: HealthPolicy;
  interval: Milliseconds;
  /** After a failure of a server not yet down (keepalived's delay_before_retry). */
  retryInterval?: Milliseconds;
  /** Undefined: the server is not checked; `unchecked` says why. */
  check: Check | undefined;
  unchecked: Unchecked | undefined;
  /** The service's check settings as JSON (one string shared by its servers). With the
   *  key (which fixes protocol, address and port) equal ones mean the same check. */
  specSignature: string;
}

export interface Unchecked {
  /** inactive: configured but never in the table. none: no check configured, always up.
   *  invalid: the check cannot run (logged as a warning); the server counts as up. */
  kind: 'inactive' | 'none' | 'invalid';
  message: string;
}

/** What the plans of services with the same check settings share, by those settings as JSON:
 *  100,000 services each with a copy were 30 MB of the health state. */
export type SharedSpecs = ShardedMap<{ specSignature: string; policy: HealthPolicy }>;

export function planHealth(model: Model): PlannedServer[] {
  const shared: SharedSpecs = new ShardedMap();
  return model.virtualServices.flatMap((service) => planService(service, shared));
}

/** The plans of one virtual service's real servers (a reload plans service by service). */
export function planService(service: VirtualService, shared: SharedSpecs): PlannedServer[] {
  const spec = service.healthCheck;
  const json = JSON.stringify(spec);
  let common = shared.get(json);
  if (!common) {
    const policy: HealthPolicy = {
      failures: spec.failures,
      reentry: spec.reentry,
      reentryChecks: spec.reentryChecks,
      slowStart: spec.slowStart,
      slowStartCurve: spec.slowStartCurve,
    };
    common = { specSignature: json, policy };
    shared.set(json, common);
  }
  const { specSignature, policy } = common;
  let compiled: ((server: RealServer) => Check) | Unchecked;
  try {
    compiled = compileService(service);
  } catch (error) {
    compiled = { kind: 'invalid', message: (error as Error).message };
  }
  const prefix = `${serviceKey(service)} -> `;
  const inactive: Unchecked | undefined = service.active ? undefined : { kind: 'inactive', message: 'virtual service is inactive' };
  return service.realServers.map((server) => {
    let check: Check | undefined;
    let unchecked = inactive ?? (server.active ? undefined : { kind: 'inactive', message: 'real server is inactive' });
    if (!unchecked && typeof compiled !== 'function') unchecked = compiled;
    if (!unchecked && typeof compiled === 'function') {
      try {
        check = compiled(server);
      } catch (error) {
        unchecked = { kind: 'invalid', message: (error as Error).message };
      }
    }
    const key = prefix + endpoint(server.address, server.port || service.port);
    const retry = spec.retryInterval !== undefined ? { retryInterval: spec.retryInterval } : {};
    return { key, service, server, policy, interval: spec.interval, ...retry, check, unchecked, specSignature };
  });
}

/** Compiles what is shared by the service's servers once (the expectation), then per server. */
function compileService(service: VirtualService): ((server: RealServer) => Check) | Unchecked {
  const spec = service.healthCheck;
  const expect = spec.expect ? compileExpectation(spec.expect, spec.useRegex) : undefined;
  const checkOf = (server: RealServer, probe: Probe, port: number): Check => ({
    target: { address: server.address, family: server.family, port },
    probe,
    timeout: spec.timeout,
  });
  switch (spec.kind) {
    case 'none':
      return { kind: 'none', message: 'no health check configured' };
    case 'tcp':
    case 'send-expect': {
      const kind = transportOf(service);
      // one probe for the service's servers (a check never changes its probe), and one for
      // every connect-only check of a transport: 100,000 services had 100,000 of them
      const probe: Probe =
        spec.kind === 'tcp' ? connectProbes[kind] : { kind, ...(spec.send ? { send: spec.send } : {}), ...(expect ? { expect } : {}) };
      return (server) => checkOf(server, probe, requirePort(service, server, spec));
    }
    case 'http': {
      const http = spec.http;
      if (!http) throw new Error('http check without http settings (path, status)');
      const body = http.bodyRegex ? compileExpectation(http.bodyRegex, true) : undefined;
      const probe: Probe = {
        kind: 'http',
        path: http.path,
        status: http.status,
        tls: http.tls ?? false,
        ...(http.statusCodes ? { statusCodes: http.statusCodes } : {}),
        ...(http.digest ? { digest: http.digest } : {}),
        ...(http.host ? { host: http.host } : {}),
        ...(body ? { body } : {}),
      };
      return (server) => checkOf(server, probe, requirePort(service, server, spec));
    }
    case 'exec': {
      const program = spec.sendProgram;
      if (!program) throw new Error('exec check without send_program');
      return (server) => {
        const port = checkPort(service, server, spec);
        return checkOf(
          server,
          { kind: 'program', command: expandProgram(program, server.address, port), ...(expect ? { expect } : {}) },
          port,
        );
      };
    }
  }
}

const connectProbes = { stream: { kind: 'stream' }, datagram: { kind: 'datagram' } } as const satisfies Record<string, Probe>;

function transportOf(service: VirtualService): 'stream' | 'datagram' {
  if (service.protocol === 'sctp') throw new Error('no SCTP connect or send/expect check; use an exec check (send_program)');
  return service.protocol === 'udp' ? 'datagram' : 'stream';
}

/** The check's port override, else the real server's port, else (0) the service's. */
function checkPort(service: VirtualService, server: RealServer, spec: HealthCheckSpec): number {
  return spec.port || server.port || service.port;
}

function requirePort(service: VirtualService, server: RealServer, spec: HealthCheckSpec): number {
  const port = checkPort(service, server, spec);
  if (port === 0) throw new Error(`no port to check ${server.address} on (the service covers all ports); set the check's port`);
  return port;
}

/** `%h` → the real server's address, `%p` → the checked port (Piranha's send_program tokens). */
export function expandProgram(program: string, address: string, port: number): string {
  return program.replace(/%h/g, address).replace(/%p/g, String(port));
}

/** The IPVS identity of a virtual service: protocol, VIP and port, or firewall mark (and
 *  family: a mark without a VIP takes its real servers' family, as in the IPVS table). */
export function serviceKey(service: VirtualService): string {
  if (service.fwmark !== undefined && service.fwmark > 0) {
    const family = service.vip?.family ?? service.realServers[0]?.family ?? 4;
    return `FWM ${service.fwmark}${family === 6 ? ' IPv6' : ''}`;
  }
  if (!service.vip) return service.name;
  return `${service.protocol.toUpperCase()} ${endpoint(service.vip.address, service.port)}`;
}

export function serverKey(service: VirtualService, server: RealServer): string {
  return `${serviceKey(service)} -> ${endpoint(server.address, server.port || service.port)}`;
}

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
