#!/usr/bin/env -S node --single-threaded-gc
import { Command } from 'commander';
import { checkConfigCommand } from './check-config.js';
import type { CommandModule } from './command.js';
import { convertCommand } from './convert.js';
import { keygenCommand } from './keygen.js';
import { operatorCommands } from './operator.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';

// Each command lives in its own file and registers itself here.
const commands: CommandModule[] = [checkConfigCommand, convertCommand, runCommand, statusCommand, operatorCommands, keygenCommand];

const program = new Command('tandem')
  .description('High-availability pair controller for Linux Virtual Server directors')
  .showHelpAfterError();
for (const command of commands) command.register(program);

await program.parseAsync(process.argv);
