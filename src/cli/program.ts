// The `tandem` command line: every command registered on one commander program.
// Built by main.ts; tests build it too, to hold the man page and the shell
// completion to the commands and options it really has.
import { Command } from 'commander';
import { version } from '../lib/version.js';
import { checkConfigCommand } from './check-config.js';
import { cleanupCommand } from './cleanup.js';
import { ExitCode, type CommandModule } from './command.js';
import { connsCommand } from './conns.js';
import { convertCommand } from './convert.js';
import { ipvsCommand } from './ipvs.js';
import { keygenCommand } from './keygen.js';
import { operatorCommands } from './operator.js';
import { reloadCommand } from './reload.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';

// Each command lives in its own file and registers itself here.
const commands: CommandModule[] = [
  checkConfigCommand,
  convertCommand,
  ipvsCommand,
  runCommand,
  statusCommand,
  connsCommand,
  operatorCommands,
  reloadCommand,
  keygenCommand,
  cleanupCommand,
];

export function tandemProgram(): Command {
  const program = new Command('tandem')
    .description('High-availability pair controller for Linux Virtual Server directors')
    .version(version, '-V, --version', "print tandem's version")
    .showHelpAfterError()
    // A usage error (unknown option, missing argument) is bad input like a bad config file.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? ExitCode.ok : ExitCode.badInput));
  for (const command of commands) command.register(program);
  return program;
}
