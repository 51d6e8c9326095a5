// `tandem keygen [FILE] [--add] [--id N]`: writes a new random heartbeat key to a
// root-only key file, or (--add) adds a second one for a rotation.
import type { Command } from 'commander';
import { generateKey, KeyFileError } from '../cluster/index.js';
import { ExitCode, type CommandModule } from './command.js';

const defaultKeyFile = '/etc/tandem/authkey';

export const keygenCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('keygen')
      .description('write a new random heartbeat key (mode 0600); copy the file to the peer')
      .argument('[file]', 'key file (auth.key_file)', defaultKeyFile)
      .option('--add', 'add a key to an existing file, for a key rotation')
      .option('--id <n>', 'key id (default: 1, or the next free one with --add)', (v) => Number(v))
      .action(async (file: string, options: { add?: boolean; id?: number }) => {
        try {
          const id = await generateKey(file, { ...(options.add && { add: true }), ...(options.id !== undefined && { id: options.id }) });
          process.stdout.write(
            options.add
              ? `added key ${id} to ${file}. To rotate: copy ${file} to both nodes, run "tandem reload" on both, set auth.key_id: ${id} on both and reload both again, then remove the old key from the file (and reload).\n`
              : `wrote key ${id} to ${file} (mode 0600). Copy it to the peer at the same path, root-only; auth.key_id is ${id}.\n`,
          );
        } catch (error) {
          if (!(error instanceof KeyFileError)) throw error;
          process.stderr.write(`tandem: ${error.message}\n`);
          process.exitCode = ExitCode.badInput;
        }
      });
  },
};
