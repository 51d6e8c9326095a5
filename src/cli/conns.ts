// `tandem conns [--json]`: the connection entries connection sync holds (on a backup,
// the active's entries kept warm for a takeover), from the daemon's control socket.
import type { Command } from 'commander';
import { defaultSocketPath, formatConns } from '../control/index.js';
import type { CommandModule } from './command.js';
import { ask } from './control-client.js';

export const connsCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('conns')
      .description('list the connection entries synced from the active node (conntrack, IPVS)')
      .option('--socket <path>', 'control socket', defaultSocketPath)
      .option('--json', 'print them as JSON')
      .action(async (options: { socket: string; json?: boolean }) => {
        const response = await ask(options.socket, 'conns');
        if (response?.command === 'conns' && response.ok) {
          process.stdout.write(options.json ? `${JSON.stringify(response.conns, null, 2)}\n` : `${formatConns(response.conns)}\n`);
        }
      });
  },
};
