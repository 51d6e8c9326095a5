// The native format, tandem.yaml: the document of schema.ts written as YAML. Reading
// keeps the YAML tree so every problem points at its line and column; writing turns a
// Model back into the shortest document that reads back to the same Model.
import type { TSchema } from '@sinclair/typebox';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  stringify,
  type Document as YamlDocument,
  type Node,
  type Pair,
} from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { quote, type DiagnosticSink, type SourceLocation } from './diagnostics.js';
import { formatHostPort } from '../lib/address.js';
import { formatConfigDuration } from '../lib/duration.js';
import type { ClaimedAddress, HealthCheckSpec, IpvsKernelSyncSpec, Model, RealServer, VirtualService } from './model.js';
import { defaultPriority, defaultRealServerName } from './defaults.js';
import {
  defaultCheckKind,
  defaultInitdead,
  defaultWarntime,
  forwardingFor,
  showValue,
  type DocPath,
  type Locator,
  type Place,
} from './normalise.js';
import { DocumentSchema } from './schema.js';

export interface ParsedYaml {
  input: unknown;
  locator: Locator;
}

/** Parses YAML text; syntax errors go to `sink` (the document is then unusable). */
export function readYaml(text: string, sink: DiagnosticSink): ParsedYaml | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const at = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  for (const problem of document.errors) {
    const offset = problem.pos[0];
    const found = text.slice(offset, text.indexOf('\n', offset) === -1 ? undefined : text.indexOf('\n', offset)).trim();
    sink.error(at(offset), {
      message: `YAML: ${problem.message.split('\n')[0]}`,
      expected: problem.code === 'DUPLICATE_KEY' ? 'each key once per mapping' : 'well-formed YAML',
      found: found === '' ? 'end of line' : quote(found),
    });
  }
  for (const problem of document.warnings) sink.warning(at(problem.pos[0]), { message: `YAML: ${problem.message.split('\n')[0]}` });
  if (document.errors.length > 0) return undefined;
  let input: unknown;
  try {
    input = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    sink.error(
      { line: 1, column: 1 },
      { message: `YAML: ${(error as Error).message}`, expected: 'a document without runaway aliases', found: 'too many alias expansions' },
    );
    return undefined;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    const place = document.contents?.range !== undefined ? at(document.contents.range[0]) : { line: 1, column: 1 };
    sink.error(place, {
      message: 'the document must be a mapping of settings',
      expected: 'keys such as nodes: and virtual_services:',
      found: showValue(input),
    });
    return undefined;
  }
  return { input, locator: yamlLocator(document, at) };
}

function yamlLocator(document: YamlDocument, at: (offset: number) => SourceLocation): Locator {
  const keyName = (path: DocPath): string =>
    path.reduce<string>((name, part) => (typeof part === 'number' ? `${name}[${part}]` : name === '' ? part : `${name}.${part}`), '') ||
    '(document)';
  // The deepest node on the path, and the pair holding it (for the key's place).
  const walk = (path: DocPath): { node: Node | undefined; pair: Pair | undefined; complete: boolean } => {
    let node: Node | undefined = document.contents ?? undefined;
    let pair: Pair | undefined;
    for (const part of path) {
      if (isMap(node)) {
        const next = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === part);
        if (next === undefined) return { node, pair, complete: false };
        pair = next;
        if (next.value === null || !(isMap(next.value) || isSeq(next.value) || isScalar(next.value)))
          return { node: next.key as Node, pair, complete: false };
        node = next.value;
      } else if (isSeq(node) && typeof part === 'number' && node.items[part] !== undefined) {
        node = node.items[part] as Node;
        pair = undefined;
      } else {
        return { node, pair, complete: false };
      }
    }
    return { node, pair, complete: true };
  };
  const placeOf = (node: Node | undefined, path: DocPath): Place => ({
    ...(node?.range !== undefined && node.range !== null ? at(node.range[0]) : { line: 1, column: 1 }),
    key: keyName(path),
  });
  return {
    value: (path) => placeOf(walk(path).node, path),
    key: (path) => {
      const { node, pair, complete } = walk(path);
      return placeOf(complete && pair !== undefined ? (pair.key as Node) : node, path);
    },
  };
}

/** The model as tandem.yaml: every value that differs from what an absent key means. */
export function toYaml(model: Model): string {
  return stringify(withoutDefaults(DocumentSchema, modelToDocument(model)), { lineWidth: 0, doubleQuotedAsJSON: true });
}

type Plain = Record<string, unknown>;

function defined(entries: Plain): Plain {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

function modelToDocument(model: Model): Plain {
  const { keepalive, deadtime, warntime, initdead } = model.heartbeat;
  return defined({
    cluster: model.cluster,
    serial_no: model.serialNo,
    nodes: model.nodes.map((node, index) =>
      defined({
        name: node.name,
        address: node.address,
        private_address: node.privateAddress,
        priority: node.priority !== defaultPriority(index) ? node.priority : undefined,
      }),
    ),
    heartbeat: defined({
      port: model.heartbeat.port,
      keepalive: formatConfigDuration(keepalive),
      deadtime: formatConfigDuration(deadtime),
      warntime: warntime !== defaultWarntime(keepalive, deadtime) ? formatConfigDuration(warntime) : undefined,
      initdead: initdead !== defaultInitdead(deadtime) ? formatConfigDuration(initdead) : undefined,
    }),
    auth: { key_file: model.auth.keyFile, key_id: model.auth.keyId },
    preempt: model.preempt,
    network: model.network,
    nat_router: model.natRouter !== undefined ? claimedToDocument(model.natRouter) : undefined,
    enable_forwarding: model.enableForwarding,
    virtual_services: model.virtualServices.map((service) => serviceToDocument(service, model)),
    sync: defined({
      enabled: model.sync.enabled,
      interface: model.sync.interface,
      sync_id: model.sync.syncId,
      port: model.sync.port,
      group: model.sync.group,
      ttl: model.sync.ttl,
      max_length: model.sync.maxLength,
      conntrack: model.sync.conntrack && {
        enabled: model.sync.conntrack.enabled,
        cache_max_entries: model.sync.conntrack.cacheMaxEntries,
        commit: model.sync.conntrack.commit,
        filter: { include: [...model.sync.conntrack.filter.include], exclude: [...model.sync.conntrack.filter.exclude] },
      },
      ipvs: (model.sync.ipvs ?? model.sync.ipvsKernel) && {
        enabled: model.sync.ipvs?.enabled,
        kernel: model.sync.ipvsKernel && ipvsKernelToDocument(model.sync.ipvsKernel),
      },
    }),
    ipvs_timeouts: defined({
      tcp: secondsToDuration(model.ipvsTimeouts.tcp),
      tcp_fin: secondsToDuration(model.ipvsTimeouts.tcpFin),
      udp: secondsToDuration(model.ipvsTimeouts.udp),
    }),
    hooks: defined({
      active_cmd: model.hooks.activeCmd,
      inactive_cmd: model.hooks.inactiveCmd,
      notify: model.hooks.notify,
      timeout: formatConfigDuration(model.hooks.timeout),
    }),
    announce: {
      count: model.announce.count,
      interval: formatConfigDuration(model.announce.interval),
      refresh: formatConfigDuration(model.announce.refresh),
    },
    monitor_links: { enabled: model.monitorLinks.enabled, interfaces: [...model.monitorLinks.interfaces] },
    keep_services_on_release: model.keepServicesOnRelease,
    metrics: model.metrics && { listen: formatHostPort(model.metrics) },
  });
}

function ipvsKernelToDocument(kernel: IpvsKernelSyncSpec): Plain {
  return defined({
    group: kernel.group,
    port: kernel.port,
    sync_threshold: kernel.threshold,
    sync_period: kernel.period,
    sync_refresh_period: secondsToDuration(kernel.refreshPeriod),
    sync_retries: kernel.retries,
    sync_persist_mode: kernel.persistMode,
    sync_ports: kernel.ports,
    sync_qlen_max: kernel.queueLimit,
    sync_sock_size: kernel.socketSize,
  });
}

function secondsToDuration(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : formatConfigDuration(seconds * 1000);
}

function claimedToDocument(claimed: ClaimedAddress): Plain {
  const hostRoute = claimed.prefix === (claimed.family === 4 ? 32 : 128);
  return defined({
    address: hostRoute ? claimed.address : `${claimed.address}/${claimed.prefix}`,
    device: claimed.device,
    label: claimed.label,
  });
}

function serviceToDocument(service: VirtualService, model: Model): Plain {
  const persistence = service.persistence;
  return defined({
    name: service.name,
    active: service.active,
    vip: service.vip !== undefined ? claimedToDocument(service.vip) : undefined,
    protocol: service.protocol,
    fwmark: service.fwmark,
    family: service.family,
    port: service.fwmark !== undefined && service.port === 0 ? undefined : service.port,
    scheduler: service.scheduler,
    scheduler_flags: service.schedulerFlags,
    persistence:
      persistence !== undefined
        ? defined({
            timeout: formatConfigDuration(persistence.timeout * 1000),
            netmask:
              persistence.netmask === undefined
                ? undefined
                : persistence.netmask.includes('.')
                  ? persistence.netmask
                  : Number(persistence.netmask),
          })
        : undefined,
    persistence_engine: service.persistenceEngine,
    one_packet: service.onePacket,
    sorry_server:
      service.sorryServer !== undefined
        ? defined({
            address: service.sorryServer.address,
            port: service.sorryServer.port,
            forwarding: service.sorryServer.forwarding !== forwardingFor(model.network) ? service.sorryServer.forwarding : undefined,
            weight: service.sorryServer.weight,
          })
        : undefined,
    health_check: healthCheckToDocument(service.healthCheck),
    real_servers: service.realServers.map((server) => realServerToDocument(server, model)),
  });
}

function healthCheckToDocument(check: HealthCheckSpec): Plain {
  const fields = defined({
    interval: formatConfigDuration(check.interval),
    timeout: formatConfigDuration(check.timeout),
    reentry: formatConfigDuration(check.reentry),
    reentry_checks: check.reentryChecks,
    failures: check.failures,
    retry_interval: check.retryInterval !== undefined ? formatConfigDuration(check.retryInterval) : undefined,
    send: check.send,
    expect: check.expect,
    use_regex: check.useRegex,
    send_program: check.sendProgram,
    port: check.port,
    http:
      check.http !== undefined
        ? defined({
            path: check.http.path,
            host: check.http.host,
            status: check.http.status,
            status_codes: check.http.statusCodes?.map((range) => (range.from === range.to ? range.from : `${range.from}-${range.to}`)),
            body_regex: check.http.bodyRegex,
            digest: check.http.digest,
            tls: check.http.tls,
          })
        : undefined,
    quiesce_server: check.quiesceServer,
    slow_start: formatConfigDuration(check.slowStart),
    slow_start_curve: check.slowStartCurve,
    load_monitor: check.loadMonitor,
  });
  const derivedKind = defaultCheckKind({ send_program: check.sendProgram, http: check.http, send: check.send, expect: check.expect });
  return check.kind !== derivedKind ? { kind: check.kind, ...fields } : fields;
}

function realServerToDocument(server: RealServer, model: Model): Plain {
  return defined({
    name: server.name !== defaultRealServerName(server.address, server.port) ? server.name : undefined,
    address: server.address,
    port: server.port,
    weight: server.weight,
    active: server.active,
    forwarding: server.forwarding !== forwardingFor(model.network) ? server.forwarding : undefined,
    upper_threshold: server.upperThreshold,
    lower_threshold: server.lowerThreshold,
    tunnel: server.tunnel !== undefined ? defined({ ...server.tunnel }) : undefined,
  });
}

/** The value without every part equal to the schema's default, and sections left empty. */
function withoutDefaults(schema: TSchema, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutDefaults(schema.items as TSchema, item));
  if (value === null || typeof value !== 'object' || schema.properties === undefined) return value;
  const properties = schema.properties as Record<string, TSchema | undefined>;
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, part]) => {
      const child = properties[key];
      if (child === undefined) return [[key, part]];
      const kept = withoutDefaults(child, part);
      return child.default !== undefined && isDeepStrictEqual(kept, child.default) ? [] : [[key, kept]];
    }),
  );
}
