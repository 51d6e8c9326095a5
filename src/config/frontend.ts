// The formats tandem reads, how one is recognised, and what a front end gets and gives.
import { quote, type DiagnosticSink } from './diagnostics.js';
import type { DocPath, Locator } from './normalise.js';
import type { HostResolver, ServiceResolver } from './resolve.js';

export const configFormats = ['yaml', 'lvs.cf', 'ipvsadm', 'lvs.conf', 'keepalived', 'ldirectord'] as const;
export type ConfigFormat = (typeof configFormats)[number];

export interface FrontEndContext {
  file: string;
  sink: DiagnosticSink;
  hosts: HostResolver;
  services: ServiceResolver;
  /** Reads a file the configuration includes (keepalived's `include`), with the checks a
   *  configuration file gets; undefined after reporting why not (at the file itself). */
  readInclude: (path: string) => Promise<string | undefined>;
}

/** A document in the shape of schema.ts, and where its values came from. */
export interface FrontEndResult {
  input: unknown;
  locator: Locator;
  /** Parts whose errors the front end reported already (see DocumentBuilder.damaged). */
  damaged?: DocPath[];
}

/** Lines only these formats have, looked for anywhere in the file before the extension
 *  (ldirectord.cf shares `.cf` with lvs.cf; keepalived.conf often starts with a comment). */
const bySignature: [RegExp, ConfigFormat][] = [
  [/^[ \t]*(global_defs|vrrp_instance|vrrp_sync_group|virtual_server_group)\b|^[ \t]*virtual_server[ \t][^\n{]*\{/m, 'keepalived'],
  [/^virtual6?[ \t]*=|^[ \t]+(real6?|checktype)[ \t]*=/m, 'ldirectord'],
];

const byExtension: [RegExp, ConfigFormat][] = [
  [/\.ya?ml$/i, 'yaml'],
  [/\.cf$/i, 'lvs.cf'],
  [/\.rules$/i, 'ipvsadm'],
];

const byFirstLine: [RegExp, ConfigFormat][] = [
  [/^(\S*\/)?ipvsadm(\s|$)|^(-[AEaeDdCZ]|--(add|edit|delete)-(service|server)|--clear|--set|--start-daemon)(\s|$)/, 'ipvsadm'],
  [/^(export\s+)?[A-Z_][A-Z0-9_]*=/, 'lvs.conf'],
  [/^((virtual|failover)\s+\S+\s*\{|[a-z_]+\s*=)/, 'lvs.cf'],
  [/^(---|%YAML|[A-Za-z_][\w-]*\s*:(\s|$))/, 'yaml'],
];

/** The format of `text`: by a signature line, else by file extension where that is
 *  unambiguous, else by the first line that is not blank or a comment. Reports to `sink` when it cannot tell. */
export function detectFormat(text: string, file: string, sink: DiagnosticSink): ConfigFormat | undefined {
  for (const [pattern, format] of bySignature) if (pattern.test(text)) return format;
  for (const [pattern, format] of byExtension) if (pattern.test(file)) return format;
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const line = (lines[index] ?? '').trim();
  for (const [pattern, format] of byFirstLine) if (pattern.test(line)) return format;
  sink.error(
    { line: index + 1, column: (lines[index] ?? '').search(/\S/) + 1 },
    {
      message: 'cannot tell the configuration format',
      expected: 'tandem.yaml, Piranha lvs.cf, ipvsadm rules, lvs-director lvs.conf, keepalived.conf or ldirectord.cf (or give --format)',
      found: quote(line),
    },
  );
  return undefined;
}
