// `tandem reload`: the running daemon reads its configuration file again and
// applies it without changing its role (as SIGHUP does, but with the answer: what
// changed, or the file's errors). Exit status 2 when the file is invalid, 1 when the
// change needs a restart.
import type { Command } from 'commander';
import { defaultSocketPath, formatReload } from '../control/index.js';
import { ExitCode, type CommandModule } from './command.js';
import { printDiagnostics } from './config-input.js';
import { ask } from './control-client.js';

// The daemon parses the file in a worker before it answers: well under a second on a
// director, most of a minute under emulation (systemd's ExecReload waits for it).
const reloadTimeoutMs = 300_000;

export const reloadCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('reload')
      .description('make the daemon read its configuration again and apply it (never changes the role)')
      .option('--socket <path>', 'control socket', defaultSocketPath)
      .option('--json', 'print the outcome as JSON')
      .action(async (options: { socket: string; json?: boolean }) => {
        const response = await ask(options.socket, 'reload', reloadTimeoutMs);
        if (!response || response.command !== 'reload' || !('changes' in response)) return;
        if (options.json) {
          process.stdout.write(`${JSON.stringify(response)}\n`);
        } else {
          printDiagnostics(response.diagnostics);
          process.stdout.write(`${formatReload(response)}\n`);
        }
        if (!response.ok) process.exitCode = response.code === 'invalid-config' ? ExitCode.badInput : ExitCode.failure;
      });
  },
};
