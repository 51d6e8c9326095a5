#!/usr/bin/env node
import { Command } from 'commander';
import type { CommandModule } from './command.js';
import { ipvsCommand } from './ipvs.js';

// Each command lives in its own file and registers itself here.
const commands: CommandModule[] = [ipvsCommand];

const program = new Command('tandem')
  .description('High-availability pair controller for Linux Virtual Server directors')
  .showHelpAfterError();
for (const command of commands) command.register(program);

await program.parseAsync(process.argv);
