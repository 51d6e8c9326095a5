// `tandem status [--json]`: role, term, peer, paths, packet counters, serials and
// recent transitions, from the running daemon's control socket.
import type { Command } from 'commander';
import { defaultSocketPath, formatStatus } from '../control/index.js';
import type { CommandModule } from './command.js';
import { ask } from './control-client.js';

export const statusCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('status')
      .description("show the daemon's role, its peer, the heartbeat paths and recent role changes")
      .option('--socket <path>', 'control socket', defaultSocketPath)
      .option('--json', 'print the status as JSON')
      .action(async (options: { socket: string; json?: boolean }) => {
        const response = await ask(options.socket, 'status');
        if (!response) return;
        if (response.command === 'status' && response.ok) {
          process.stdout.write(options.json ? `${JSON.stringify(response.status, null, 2)}\n` : `${formatStatus(response.status)}\n`);
        }
      });
  },
};
