// The operator's commands: `tandem failover` (hand the active role to the peer),
// `takeover` (ask the peer to hand it to this node), `standby` (maintenance: hand
// over if active, then never become active) and `resume`. Each waits for the
// outcome and exits 1 when the request was refused (the reason says why).
import type { Command } from 'commander';
import type { OperatorCommand } from '../cluster/index.js';
import { defaultSocketPath, formatOutcome } from '../control/index.js';
import { ExitCode, type CommandModule } from './command.js';
import { ask } from './control-client.js';

const descriptions: Record<OperatorCommand, string> = {
  failover: 'hand the active role over to the peer (refused if the peer cannot take it)',
  takeover: 'ask the active peer to hand the role over to this node',
  standby: 'maintenance: hand the role over if active, then stay out of the election',
  resume: 'leave standby: take part in the election again',
};

export const operatorCommands: CommandModule = {
  register(program: Command): void {
    for (const [command, description] of Object.entries(descriptions) as [OperatorCommand, string][]) {
      program
        .command(command)
        .description(description)
        .option('--socket <path>', 'control socket', defaultSocketPath)
        .option('--json', 'print the outcome as JSON')
        .action(async (options: { socket: string; json?: boolean }) => {
          const response = await ask(options.socket, command);
          if (!response || response.command !== command || !('role' in response)) return;
          process.stdout.write(options.json ? `${JSON.stringify(response)}\n` : `${formatOutcome(command, response)}\n`);
          if (!response.ok) process.exitCode = ExitCode.failure;
        });
    }
  },
};
