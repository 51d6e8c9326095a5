// The formats tandem reads, how one is recognised, and what a front end gets and gives.
import { quote, type DiagnosticSink, type SourceLocation } from './diagnostics.js';
import type { DocPath, Locator } from './normalise.js';
import type { HostResolver, ServiceResolver } from './resolve.js';

export const configFormats = ['yaml', 'lvs.cf', 'ipvsadm', 'lvs.conf', 'keepalived', 'ldirectord'] as const;
export type ConfigFormat = (typeof configFormats)[number];

/** How a format is named to the operator. */
export const formatNames: Record<ConfigFormat, string> = {
  yaml: 'tandem.yaml',
  'lvs.cf': 'Piranha lvs.cf',
  ipvsadm: 'ipvsadm rules',
  'lvs.conf': 'lvs-director lvs.conf',
  keepalived: 'keepalived.conf',
  ldirectord: 'ldirectord.cf',
};

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

const byExtension: [RegExp, ConfigFormat][] = [
  [/(^|[/.])ldirectord\.cf$/i, 'ldirectord'],
  [/(^|[/.])keepalived\.conf$/i, 'keepalived'],
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

/** Lines only one kind of file has, anywhere in it. They start in column 0, as these files
 *  write them, so a script inside a YAML block scalar (always indented) does not count. */
const signatures: [RegExp, ConfigFormat | 'shell'][] = [
  [/^(global_defs|vrrp_(instance|sync_group|script)\s+\S+|virtual_server_group\s+\S+|virtual_server\s+\S+(\s+\S+)?)\s*\{/, 'keepalived'],
  [/^(virtual6?|checktype|checktimeout|checkinterval|negotiatetimeout|quiescent|autoreload)\s*=/, 'ldirectord'],
  [/^(case\s.*\sin|if\s.*\bthen|for\s+\w+\s+in|while\s.*\bdo|esac|fi|done)(\s|;|$)/, 'shell'],
];

interface Evidence {
  kind: ConfigFormat | 'shell';
  at: SourceLocation;
  line: string;
}

/** The format of `text`: by its content (signature lines anywhere, else the first line that
 *  is not blank or a comment), else by the file name. A name that says otherwise gets a
 *  warning; a shell script or a file nothing recognises gets one error. */
export function detectFormat(text: string, file: string, sink: DiagnosticSink): ConfigFormat | undefined {
  const named = byExtension.find(([pattern]) => pattern.test(file))?.[1];
  const content = contentEvidence(text);
  if (content?.kind === 'shell') {
    sink.error(content.at, {
      message: 'this is a shell script; tandem reads ipvsadm commands and lvs.conf assignments, not scripts',
      expected: 'a configuration file (run the script, then save the table with ipvsadm -S -n)',
      found: quote(content.line),
    });
    return undefined;
  }
  if (content !== undefined && named !== undefined && content.kind !== named) {
    sink.warning(content.at, {
      message: `the name says ${formatNames[named]} but the content is ${formatNames[content.kind]}; read as ${formatNames[content.kind]} (--format chooses)`,
    });
  }
  const format = content?.kind ?? named;
  if (format !== undefined) return format;
  const lines = text.split('\n');
  const index = lines.findIndex(isContent);
  sink.error(
    { line: index + 1, column: (lines[index] ?? '').search(/\S/) + 1 },
    {
      message: 'cannot tell the configuration format',
      expected: 'tandem.yaml, Piranha lvs.cf, ipvsadm rules, lvs-director lvs.conf, keepalived.conf or ldirectord.cf (or give --format)',
      found: quote((lines[index] ?? '').trim()),
    },
  );
  return undefined;
}

/** The first signature line, else the first line if it looks like a format. */
function contentEvidence(text: string): Evidence | undefined {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const evidence = (index: number, kind: ConfigFormat | 'shell'): Evidence => {
    const line = lines[index] ?? '';
    return { kind, at: { line: index + 1, column: line.search(/\S/) + 1 }, line: line.trim() };
  };
  for (const [index, line] of lines.entries()) {
    const kind = signatures.find(([pattern]) => pattern.test(line))?.[1];
    if (kind !== undefined) return evidence(index, kind);
  }
  const first = lines.findIndex(isContent);
  const kind = byFirstLine.find(([pattern]) => pattern.test((lines[first] ?? '').trim()))?.[1];
  return kind !== undefined ? evidence(first, kind) : undefined;
}

function isContent(line: string): boolean {
  const trimmed = line.trim();
  return trimmed !== '' && !trimmed.startsWith('#');
}
