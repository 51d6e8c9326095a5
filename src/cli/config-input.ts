// Loading a configuration file for a CLI command: diagnostics to stderr in the one
// format (file:line:col: severity: key: message (expected …, found …)), exit status 2
// for bad input, and never a stack trace.
import { Option } from 'commander';
import {
  ConfigError,
  configFormats,
  formatDiagnostic,
  loadConfig,
  systemHostAddresses,
  type ConfigFormat,
  type Diagnostic,
  type LoadResult,
} from '../config/index.js';
import { ExitCode } from './command.js';

export const formatOption = (): Option => new Option('--format <format>', "the file's format (default: detected)").choices(configFormats);

export interface ConfigInputOptions {
  format?: ConfigFormat;
  /** The node this host is: enables the checks against this host. */
  node?: string;
}

/** The loaded configuration, or undefined after reporting why not (exit status set). */
export async function loadForCommand(file: string, options: ConfigInputOptions): Promise<LoadResult | undefined> {
  try {
    const result = await loadConfig(file, {
      ...(options.format !== undefined ? { format: options.format } : {}),
      ...(options.node !== undefined ? { host: { node: options.node, addresses: systemHostAddresses() } } : {}),
    });
    printDiagnostics(result.warnings);
    return result;
  } catch (error) {
    if (error instanceof ConfigError) {
      reportConfigError(file, error);
      return undefined;
    }
    failUnexpectedly(error);
    return undefined;
  }
}

/** Every error and warning of an invalid file, then the count; exit status 2. */
export function reportConfigError(file: string, error: ConfigError): void {
  printDiagnostics([...error.diagnostics, ...error.warnings]);
  const count = error.diagnostics.length;
  process.stderr.write(`${file}: ${count} error${count === 1 ? '' : 's'}\n`);
  process.exitCode = ExitCode.badInput;
}

export function printDiagnostics(diagnostics: Diagnostic[]): void {
  const sorted = [...diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
  for (const diagnostic of sorted) process.stderr.write(`${formatDiagnostic(diagnostic)}\n`);
}

/** A bug, not bad input: say so in one line. */
export function failUnexpectedly(error: unknown): void {
  process.stderr.write(`tandem: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = ExitCode.failure;
}
