#!/usr/bin/env node
import { Command } from 'commander';
import type { CommandModule } from './command.js';

// Each command lives in its own file and registers itself here.
const commands: CommandModule[] = [];

const program = new Command('tandem')
  .description('High-availability pair controller for Linux Virtual Server directors')
  .showHelpAfterError();
for (const command of commands) command.register(program);

await program.parseAsync(process.argv);
