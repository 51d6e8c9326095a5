import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

/** Exit statuses shared by every command. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  /** The configuration (or another input file) is invalid. */
  badInput: 2,
} as const;
