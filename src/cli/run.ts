// `tandem run --config FILE [--node NAME] [--log-format json|journal|pretty] [--socket PATH]
// [--realtime [PRIORITY]] [--nice N | --no-nice]`: the daemon. SIGTERM (or SIGINT) is a
// graceful stop: an active node releases, tells the peer in a last heartbeat so it takes
// over at once, and exits. SIGHUP reloads the configuration (as `tandem reload` does).
// An internal error releases what it can (as `tandem cleanup` does) before the process exits.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadKeyring } from '../cluster/index.js';
import {
  ConfigError,
  loadConfigOffThread,
  resolveLocalNode,
  systemHostAddresses,
  systemHostname,
  type ConfigFormat,
} from '../config/index.js';
import type { MetricsSpec, Model, NodeSpec } from '../config/model.js';
import { defaultSocketPath } from '../control/index.js';
import {
  Daemon,
  defaultNice,
  defaultRealtimePriority,
  enableRealtime,
  HookRunner,
  HostController,
  raisePriority,
  realtimeWorkerRank,
  type ConfigLoader,
} from '../daemon/index.js';
import { HealthMonitor } from '../health/index.js';
import { BALANCER_THREAD_SERVICES, BalancerThread, IpvsBalancer, type Balancer } from '../ipvs/index.js';
import { kernelSyncTables } from '../sync/index.js';
import { createStats, type Stats } from '../lib/stats.js';
import { formatHostPort } from '../lib/address.js';
import { rankHelperThreads, type ThreadRank } from '../lib/helper-thread.js';
import type { MetricsCollector, MetricsServer } from '../metrics/index.js';
import { createLogger, logFormats, stdoutIsJournal, type Logger, type LogFormat } from '../log.js';
import { releaseHost } from './cleanup.js';
import { AddressManager, Announcer, checkForwarding, LinkMonitor, NeighbourRefresher, PacketSocket } from '../net/index.js';
import { ExitCode, type CommandModule } from './command.js';
import { formatOption, printDiagnostics, reportConfigError } from './config-input.js';

interface RunOptions {
  config: string;
  node?: string;
  format?: ConfigFormat;
  /** Default: journal when stdout is the journal, else json. */
  logFormat?: LogFormat;
  logLevel: string;
  socket: string;
  realtime?: true | number;
  /** The event loop's nice value without real-time scheduling; false: leave it as started. */
  nice: number | false;
}

function badInput(message: string): void {
  process.stderr.write(`tandem: ${message}\n`);
  process.exitCode = ExitCode.badInput;
}

/** How long a crashing daemon may take to release before it exits anyway. */
const crashReleaseMs = 3000;
/** Scrapes within this share one status (and one read of the IPVS table). */
const statusMaxAgeMs = 1000;

function niceValue(value: string): number {
  const nice = Number(value);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new InvalidArgumentError('not an integer from -20 to 19');
  return nice;
}

/**
 * Real-time scheduling when asked for; else, or when it is refused, the event loop's
 * nice value (unless --no-nice). Either way the daemon runs on, logging what it got.
 * Resolves with where the helper threads started from then on run (a reload's loader, the table planner).
 */
async function setScheduling({ realtime, nice }: RunOptions, logger: Logger): Promise<ThreadRank> {
  if (realtime !== undefined) {
    const priority = realtime === true ? defaultRealtimePriority : realtime;
    try {
      const set = await enableRealtime(priority);
      logger.info({ event: 'daemon.realtime', priority }, `real-time scheduling: ${set}`);
      return realtimeWorkerRank;
    } catch (error) {
      const instead = nice === false ? 'running with normal scheduling as started' : `normal scheduling at nice ${nice} instead`;
      logger.error({ event: 'daemon.realtime-failed', priority }, `${(error as Error).message}; ${instead}`);
    }
  }
  if (nice === false) return 'background';
  const raised = await raisePriority(nice);
  const got = `event loop at nice ${raised.nice}${raised.helpers === undefined ? '' : `, helper threads at ${raised.helpers}`}`;
  if (raised.shortfall === undefined)
    logger.info({ event: 'daemon.priority', ...raised }, `normal scheduling: ${got}; programs it starts at nice 0`);
  else
    logger.warn({ event: 'daemon.priority-failed', ...raised }, `normal scheduling: ${got}; asked for nice ${nice}: ${raised.shortfall}`);
  return raised.nice < 0 ? { nice: raised.helpers ?? raised.nice + 1 } : 'background';
}

/** The metrics endpoint; a daemon that cannot bind it runs on without (logged). */
async function startMetrics(listen: MetricsSpec, collector: MetricsCollector, logger: Logger): Promise<MetricsServer | undefined> {
  try {
    const { MetricsServer } = await import('../metrics/index.js');
    const server = await MetricsServer.start(listen, collector);
    logger.info({ event: 'metrics.listening', ...listen }, `metrics on http://${formatHostPort(listen)}/metrics`);
    return server;
  } catch (error) {
    logger.error({ event: 'metrics.listen-failed', ...listen, err: error }, `metrics: ${(error as Error).message}`);
    return undefined;
  }
}

/** The configuration, this node and its peer, and the keys: at start and on every reload. */
function configLoader(options: RunOptions): ConfigLoader {
  return async (running) => {
    // in a worker: a reload must not hold the event loop that sends the heartbeats
    const { model, warnings } = await loadConfigOffThread(
      options.config,
      {
        ...(options.format !== undefined && { format: options.format }),
        ...(options.node !== undefined && { host: { node: options.node, addresses: systemHostAddresses() } }),
      },
      { previous: running?.virtualServices ?? [] },
    );
    let local;
    try {
      local = resolveLocalNode(model, {
        ...(options.node !== undefined && { node: options.node }),
        hostAddresses: systemHostAddresses().map((a) => a.address),
        hostname: systemHostname(),
      });
    } catch (error) {
      throw new Error(`${options.config}: ${(error as Error).message}`);
    }
    const keyring = local.peer ? await loadKeyring(model.auth.keyFile, model.auth.keyId) : undefined;
    return { model, warnings, self: local.self, ...(local.peer && { peer: local.peer }), ...(keyring && { keyring }) };
  };
}

interface Parts {
  self: NodeSpec;
  peer: NodeSpec | undefined;
  logger: Logger;
  stats: Stats;
}

/** The active role on this host: rtnetlink, the packet socket and the sysctls of net/, the hooks, the balancer. */
function hostController(model: Model, { self, peer, logger, stats }: Parts, balancer: Balancer): HostController {
  const packets = new PacketSocket();
  return new HostController({
    model,
    self,
    ...(peer && { peer }),
    logger,
    addresses: new AddressManager(logger, { stats: stats.address }),
    announcer: new Announcer({ sender: packets, spec: model.announce, logger, stats: stats.announce }),
    packets,
    watchLinks: (devices) => new LinkMonitor(devices, logger),
    neighbours: new NeighbourRefresher(),
    checkForwarding,
    hooks: new HookRunner({ spec: model.hooks, identity: { cluster: model.cluster, node: self.name }, logger, stats: stats.hooks }),
    balancer,
    stats,
  });
}

/** Loads the configuration and starts the daemon: undefined when it could not. Nothing of
 *  the first model is kept here: after a reload it would stay on the heap for good. */
async function startDaemon(options: RunOptions): Promise<{ daemon: Daemon; logger: Logger; metricsServer?: MetricsServer } | undefined> {
  // the start loads as started: no heartbeat runs yet, and a niced thread waits long
  const loadConfig = configLoader(options);
  let loaded;
  try {
    loaded = await loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) reportConfigError(options.config, error);
    else badInput((error as Error).message);
    return;
  }
  printDiagnostics(loaded.warnings);
  const { model, self, peer, keyring } = loaded;
  const logFormat = options.logFormat ?? (stdoutIsJournal() ? 'journal' : 'json');
  // one set of counters for every part: status reads them all
  const stats = createStats();
  const logger = createLogger({ format: logFormat, level: options.logLevel, onDrop: () => stats.log.dropped.inc() }).child({
    node: self.name,
  });
  rankHelperThreads(await setScheduling(options, logger));
  let daemon: Daemon | undefined;
  // what a crash releases until the daemon runs; dropped then, as a reload may replace it
  let startModel: Model | undefined = model;
  let crashed = false;
  process.on('uncaughtException', (error) => {
    logger.fatal({ event: 'daemon.crash', err: error }, `internal error: ${error.message}`);
    if (crashed) process.exit(ExitCode.failure);
    crashed = true;
    // the peer takes over once our heartbeats stop; it must not find the addresses still here
    setTimeout(() => process.exit(ExitCode.failure), crashReleaseMs).unref();
    // what the daemon runs, not a file a reload refused
    const running = daemon?.runningModel ?? startModel;
    if (!running) process.exit(ExitCode.failure);
    void releaseHost(running, logger).then((released) => {
      logger.fatal(
        { event: 'daemon.crash-release', ...released },
        `released ${released.removed.length} address(es) before exiting${released.failed.length > 0 ? `; failed: ${released.failed.join('; ')}` : ''}`,
      );
      process.exit(ExitCode.failure);
    });
  });
  // a big table's health state and planning on a heap of their own: the event loop's
  // collections would otherwise grow with them (README: Big tables)
  const balancer: Balancer =
    model.virtualServices.length >= BALANCER_THREAD_SERVICES
      ? await BalancerThread.start({ model, self, logger, stats })
      : await IpvsBalancer.create({ model, self, logger, health: new HealthMonitor({ logger, stats: stats.health }), stats: stats.ipvs });
  // prom-client and the exporter are loaded only when metrics are configured: without them they cost only memory
  const metrics = model.metrics && (await import('../metrics/index.js'));
  const collector =
    metrics &&
    new metrics.MetricsCollector({
      counters: stats.registry,
      view: metrics.cachedStatus(
        async () => {
          if (!daemon) throw new Error('the daemon is starting');
          return metrics.metricsView(await daemon.status());
        },
        statusMaxAgeMs,
        undefined,
        () => stats.role.transitions.sum(),
      ),
    });
  try {
    daemon = await Daemon.start({
      model,
      self,
      ...(peer && { peer }),
      ...(keyring && { keyring }),
      controller: hostController(model, { self, peer, logger, stats }, balancer),
      balancer,
      logger,
      socketPath: options.socket,
      loadConfig,
      stats,
      ...(collector && { runtimeObserver: collector.runtimeObserver }),
      syncTables: kernelSyncTables(),
    });
  } catch (error) {
    logger.error({ event: 'daemon.start-failed', err: error }, (error as Error).message);
    process.stderr.write(`tandem: ${(error as Error).message}\n`);
    process.exitCode = ExitCode.failure;
    return;
  }
  startModel = undefined;
  const metricsServer = model.metrics && collector && (await startMetrics(model.metrics, collector, logger));
  return { daemon, logger, ...(metricsServer && { metricsServer }) };
}

export const runCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('run')
      .description('run the daemon: heartbeats with the peer, the election, the addresses, the control socket')
      .requiredOption(
        '--config <file>',
        'configuration file (tandem.yaml, lvs.cf, ipvsadm rules, lvs.conf, keepalived.conf or ldirectord.cf)',
      )
      .option('--node <name>', 'the node this host is (default: by address, then by host name)')
      .addOption(
        new Option('--log-format <format>', 'log format (default: journal when stdout is the journal, else json)').choices(logFormats),
      )
      .option('--log-level <level>', 'pino log level', 'info')
      .option('--socket <path>', 'control socket', defaultSocketPath)
      .option(
        '--realtime [priority]',
        `real-time scheduling (SCHED_RR, default priority ${defaultRealtimePriority}) so other processes cannot delay heartbeats`,
        (v) => Number(v),
      )
      .option(
        '--nice <value>',
        `without real-time scheduling (not asked for, or refused): the event loop thread's nice value, or the nearest one allowed`,
        niceValue,
        defaultNice,
      )
      .option('--no-nice', 'leave the nice values as started')
      .addOption(formatOption())
      .action(async (options: RunOptions) => {
        const started = await startDaemon(options);
        if (!started) return;
        const { daemon: running, logger, metricsServer } = started;
        let signals = 0;
        const stop = (signal: string) => {
          signals += 1;
          if (signals > 1) {
            logger.warn({ event: 'daemon.abort', signal }, `${signal} again: exiting without a graceful stop`);
            process.exit(ExitCode.failure);
          }
          logger.info({ event: 'daemon.signal', signal }, `${signal}: graceful stop`);
          void running.stop();
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGHUP', () => {
          logger.info({ event: 'daemon.signal', signal: 'SIGHUP' }, 'SIGHUP: reloading the configuration');
          void running.reload();
        });
        await running.done;
        await metricsServer?.close();
      });
  },
};
