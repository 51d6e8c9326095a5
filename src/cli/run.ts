// `tandem run --config FILE [--node NAME] [--log-format json|pretty] [--socket PATH]`:
// the daemon. SIGTERM (or SIGINT) is a graceful stop: an active node releases,
// tells the peer in a last heartbeat so it takes over at once, and exits.
import { Option, type Command } from 'commander';
import { KeyFileError, loadKeyring, type Keyring } from '../cluster/index.js';
import { resolveLocalNode, systemHostAddresses, systemHostname, type ConfigFormat } from '../config/index.js';
import { Daemon, defaultRealtimePriority, defaultSocketPath, enableRealtime, IpvsBalancer, LoggingController } from '../daemon/index.js';
import { createLogger, type LogFormat } from '../log.js';
import { ExitCode, type CommandModule } from './command.js';
import { formatOption, loadForCommand } from './config-input.js';

interface RunOptions {
  config: string;
  node?: string;
  format?: ConfigFormat;
  logFormat: LogFormat;
  logLevel: string;
  socket: string;
  realtime?: true | number;
}

function badInput(message: string): void {
  process.stderr.write(`tandem: ${message}\n`);
  process.exitCode = ExitCode.badInput;
}

export const runCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('run')
      .description('run the daemon: heartbeats with the peer, the election, the control socket')
      .requiredOption('--config <file>', 'configuration file (tandem.yaml, lvs.cf, ipvsadm rules or lvs.conf)')
      .option('--node <name>', 'the node this host is (default: by address, then by host name)')
      .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'pretty']).default('json'))
      .option('--log-level <level>', 'pino log level', 'info')
      .option('--socket <path>', 'control socket', defaultSocketPath)
      .option('--realtime [priority]', `real-time scheduling (SCHED_RR, default priority ${defaultRealtimePriority}) so other processes cannot delay heartbeats`, (v) => Number(v))
      .addOption(formatOption())
      .action(async (options: RunOptions) => {
        const loaded = await loadForCommand(options.config, options);
        if (loaded === undefined) return;
        const { model } = loaded;
        let local;
        try {
          local = resolveLocalNode(model, {
            ...(options.node !== undefined && { node: options.node }),
            hostAddresses: systemHostAddresses().map((a) => a.address),
            hostname: systemHostname(),
          });
        } catch (error) {
          return badInput(`${options.config}: ${(error as Error).message}`);
        }
        let keyring: Keyring | undefined;
        if (local.peer) {
          try {
            keyring = await loadKeyring(model.auth.keyFile, model.auth.keyId);
          } catch (error) {
            if (error instanceof KeyFileError) return badInput(error.message);
            throw error;
          }
        }
        const logger = createLogger({ format: options.logFormat, level: options.logLevel }).child({ node: local.self.name });
        if (options.realtime !== undefined) {
          const priority = options.realtime === true ? defaultRealtimePriority : options.realtime;
          await enableRealtime(priority).then(
            (set) => logger.info({ event: 'daemon.realtime', priority }, `real-time scheduling: ${set}`),
            (error: Error) => logger.error({ event: 'daemon.realtime-failed', priority }, `${error.message}; running with normal scheduling`),
          );
        }
        process.on('uncaughtException', (error) => {
          logger.fatal({ event: 'daemon.crash', err: error }, `internal error: ${error.message}`);
          process.exit(ExitCode.failure);
        });
        const balancer = await IpvsBalancer.create({ model, self: local.self, logger });
        let daemon: Daemon;
        try {
          daemon = await Daemon.start({
            model,
            self: local.self,
            ...(local.peer && { peer: local.peer }),
            ...(keyring && { keyring }),
            controller: new LoggingController(logger.child({ component: 'controller' })),
            balancer,
            logger,
            socketPath: options.socket,
          });
        } catch (error) {
          logger.error({ event: 'daemon.start-failed', err: error }, (error as Error).message);
          process.stderr.write(`tandem: ${(error as Error).message}\n`);
          process.exitCode = ExitCode.failure;
          return;
        }
        let signals = 0;
        const stop = (signal: string) => {
          signals += 1;
          if (signals > 1) {
            logger.warn({ event: 'daemon.abort', signal }, `${signal} again: exiting without a graceful stop`);
            process.exit(ExitCode.failure);
          }
          logger.info({ event: 'daemon.signal', signal }, `${signal}: graceful stop`);
          void daemon.stop();
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        // The default action of SIGHUP would kill the daemon; a reload is not a role change.
        process.on('SIGHUP', () => logger.warn({ event: 'daemon.sighup' }, 'SIGHUP: reloading the configuration is not supported yet; restart to apply changes'));
        await daemon.done;
      });
  },
};
