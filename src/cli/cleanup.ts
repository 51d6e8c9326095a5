// `tandem cleanup --config FILE`: takes off this host what an active daemon holds
// when that daemon can no longer release it itself (killed, out of memory, exited
// after an error): the addresses tandem manages, the IPVS services it programs
// (quiesced instead with keep_services_on_release) and the IPVS sync daemons.
// What the daemon's own release does, from the configuration file. The unit runs it
// as ExecStopPost with --after-stop; the daemon calls releaseHost on a crash.
import { connect } from 'node:net';
import type { Command } from 'commander';
import type { Model } from '../config/index.js';
import { defaultSocketPath } from '../control/index.js';
import { managedAddresses } from '../daemon/index.js';
import { desiredTableInChunks, IpvsNetlink, IpvsReconciler, reconcileSyncDaemons } from '../ipvs/index.js';
import { createLogger, stdoutIsJournal, type Logger } from '../log.js';
import { removeHookAnchors } from '../sync/index.js';
import { AddressManager } from '../net/index.js';
import { ExitCode, type CommandModule } from './command.js';
import { formatOption, loadForCommand, type ConfigInputOptions } from './config-input.js';

export interface HostRelease {
  /** `address/prefix device`, as removed. */
  removed: string[];
  /** What could not be undone, and why. */
  failed: string[];
  /** IPVS operations applied (deleted or quiesced services, stopped sync daemons). */
  ipvsOperations: number;
}

/**
 * Whether systemd reports a clean exit of the service's main process (the variables
 * it gives ExecStopPost): the daemon's graceful stop released everything already.
 */
export function stoppedCleanly(env: NodeJS.ProcessEnv): boolean {
  return env.SERVICE_RESULT === 'success' && env.EXIT_CODE === 'exited' && env.EXIT_STATUS === '0';
}

/** Removes the addresses `model` manages from this host and leaves IPVS as a release does. Never throws. */
export async function releaseHost(model: Model, logger: Logger): Promise<HostRelease> {
  const result: HostRelease = { removed: [], failed: [], ipvsOperations: 0 };
  const addresses = new AddressManager(logger);
  try {
    const report = await addresses.release(managedAddresses(model));
    result.removed = report.removed.map((r) => `${r.address.address}/${r.prefix} ${r.device}`);
    result.failed = report.failed.map((f) => `${f.address.address}: ${f.reason}`);
  } catch (error) {
    result.failed.push(`addresses: ${(error as Error).message}`);
  } finally {
    addresses.close();
  }
  const usesIpvs = model.sync.enabled || model.virtualServices.some((service) => service.active);
  if (!usesIpvs) return result;
  let kernel: IpvsNetlink;
  try {
    kernel = await IpvsNetlink.open();
  } catch (error) {
    // without the module loaded there is no table to clean
    logger.info({ event: 'cleanup.no-ipvs', error: (error as Error).message }, 'IPVS is not available: no table to clean');
    return result;
  }
  try {
    const desired = await desiredTableInChunks(model, { role: 'inactive' });
    const reconciled = await new IpvsReconciler(kernel, logger).reconcile(desired, 'cleanup');
    result.ipvsOperations += reconciled.operationCount - reconciled.failures.length;
    result.failed.push(...reconciled.failures.map((f) => `ipvs: ${f.error.message}`));
    if (model.sync.enabled) {
      const running = await kernel.listDaemons();
      await reconcileSyncDaemons(kernel, [], logger);
      result.ipvsOperations += running.length;
      await removeHookAnchors(kernel);
    }
  } catch (error) {
    result.failed.push(`ipvs: ${(error as Error).message}`);
  } finally {
    kernel.close();
  }
  return result;
}

/** Whether a daemon answers on the control socket (it holds what it holds on purpose). */
function daemonListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface CleanupOptions extends ConfigInputOptions {
  config: string;
  socket: string;
  afterStop?: boolean;
}

export const cleanupCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('cleanup')
      .description('remove what a daemon that died left on this host: its addresses, its IPVS services')
      .requiredOption('--config <file>', 'configuration file, as given to tandem run')
      .option('--socket <path>', 'control socket: a daemon answering there is left alone', defaultSocketPath)
      .option('--after-stop', "as the unit's ExecStopPost: do nothing when systemd says the daemon exited cleanly")
      .addOption(formatOption())
      .action(async (options: CleanupOptions) => {
        const logger = createLogger({ format: stdoutIsJournal() ? 'journal' : 'pretty' });
        if (options.afterStop && stoppedCleanly(process.env)) {
          logger.debug({ event: 'cleanup.skipped' }, 'the daemon stopped cleanly: nothing to clean');
          return;
        }
        if (await daemonListening(options.socket)) {
          process.stderr.write(`tandem: a daemon is running (control socket ${options.socket}); stop it first\n`);
          process.exitCode = ExitCode.failure;
          return;
        }
        const loaded = await loadForCommand(options.config, { ...(options.format !== undefined && { format: options.format }) });
        if (!loaded) return;
        const outcome = await releaseHost(loaded.model, logger);
        const why = options.afterStop ? ` (the daemon ended: ${process.env.SERVICE_RESULT ?? 'unknown'})` : '';
        logger[outcome.removed.length > 0 || outcome.ipvsOperations > 0 ? 'warn' : 'info'](
          { event: 'cleanup.done', ...outcome },
          `removed ${outcome.removed.length} address(es), ${outcome.ipvsOperations} IPVS operation(s)${why}`,
        );
        if (outcome.failed.length > 0) {
          logger.error({ event: 'cleanup.failed', failed: outcome.failed }, `could not clean up: ${outcome.failed.join('; ')}`);
          process.exitCode = ExitCode.failure;
        }
      });
  },
};
