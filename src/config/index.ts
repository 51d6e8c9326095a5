// The configuration: six front ends (tandem.yaml, Piranha lvs.cf, ipvsadm rules,
// lvs-director's lvs.conf, keepalived.conf, ldirectord.cf), one validated Model. See README "Configuration".
import { stat, readFile } from 'node:fs/promises';
import { ConfigError, DiagnosticSink, quote, type Diagnostic, type SourceLocation } from './diagnostics.js';
import { detectFormat, type ConfigFormat, type FrontEndContext, type FrontEndResult } from './frontend.js';
import { checkHost, type HostFacts } from './host.js';
import { readIpvsadmRules } from './ipvsadm-rules.js';
import { readKeepalived } from './keepalived.js';
import { readLdirectord } from './ldirectord.js';
import { readLvsCf } from './lvscf.js';
import { readLvsConf } from './lvsconf.js';
import type { Model } from './model.js';
import { normalise } from './normalise.js';
import { systemHostResolver, systemServiceResolver, type HostResolver, type ServiceResolver } from './resolve.js';
import { readYaml } from './yaml.js';

export type * from './model.js';
export { ConfigError, formatDiagnostic, type Diagnostic } from './diagnostics.js';
export { configFormats, formatNames, type ConfigFormat } from './frontend.js';
export { systemHostAddresses, systemHostname, type HostAddress, type HostFacts } from './host.js';
export { resolveLocalNode, type LocalNode, type LocalNodeOptions } from './node.js';
export {
  hostsTableResolver,
  servicesTableResolver,
  systemHostResolver,
  systemServiceResolver,
  type HostResolver,
  type ServiceResolver,
} from './resolve.js';
/** `address:port` (`[v6]:port`; the address alone for port 0), as real servers are named. */
export { defaultRealServerName, ipvsKernelSyncDefaults } from './normalise.js';
export { jsonSchema } from './schema.js';
export { toYaml } from './yaml.js';
export { loadConfigOffThread, type OffThreadLoadOptions } from './off-thread.js';

/** Configuration files larger than this are refused before they are read. 1 MiB of
 *  ipvsadm rules is some 2000 services with 10 real servers each, far beyond real
 *  tables, and loads within a few hundred milliseconds and tens of MiB (npm run bench
 *  -- config); a 10 MB file must not cost a director a gigabyte. */
export const maxConfigBytes = 1024 * 1024;

export interface LoadOptions {
  /** Default: detected from the file name and contents. */
  format?: ConfigFormat;
  /** Host names in lvs.cf, ipvsadm rules and lvs.conf. Default: /etc/hosts, then DNS. */
  hosts?: HostResolver;
  /** Service names where a port is expected. Default: /etc/services. */
  services?: ServiceResolver;
  /** With --node: check the configuration against this host (VIPs inside their device's subnets). */
  host?: HostFacts;
}

export interface LoadResult {
  model: Model;
  warnings: Diagnostic[];
  format: ConfigFormat;
}

/** Reads and validates a configuration file. Throws ConfigError with every error of
 *  the file (and its warnings) when it is invalid or cannot be read. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const sink = new DiagnosticSink(path);
  const text = await readConfigText(path, sink);
  sink.throwIfErrors();
  return parseConfig(text ?? '', path, options);
}

/** A configuration file's text, or undefined after reporting to `sink` why not. A file
 *  other than the sink's own (an include) is named in the diagnostics. */
async function readConfigText(path: string, sink: DiagnosticSink): Promise<string | undefined> {
  const file = path === sink.file ? {} : { file: path };
  try {
    const size = (await stat(path)).size;
    if (size > maxConfigBytes) {
      sink.error(
        { line: 1, column: 1, ...file },
        { message: 'file too large for a configuration', expected: `at most ${maxConfigBytes} bytes`, found: `${size} bytes` },
      );
      return undefined;
    }
    return new TextDecoder('utf-8').decode(await readFile(path));
  } catch (error) {
    sink.error(
      { line: 0, column: 0, ...file },
      {
        message: `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        expected: 'a readable file',
        found: quote(path),
      },
    );
    return undefined;
  }
}

/** The same as loadConfig, from text; `file` names it in diagnostics. */
export async function parseConfig(text: string, file: string, options: LoadOptions = {}): Promise<LoadResult> {
  const sink = new DiagnosticSink(file);
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  checkText(body, sink);
  sink.throwIfErrors();
  const format = options.format ?? detectFormat(body, file, sink);
  if (format === undefined) throw new ConfigError(sink.errors, sink.warnings);
  const context: FrontEndContext = {
    file,
    sink,
    hosts: options.hosts ?? systemHostResolver(),
    services: options.services ?? systemServiceResolver(),
    readInclude: async (path) => {
      const included = await readConfigText(path, sink);
      const errors = sink.errors.length;
      if (included !== undefined) checkText(included, sink, path);
      return sink.errors.length === errors ? included : undefined;
    },
  };
  const read = await frontEnds[format](body, context);
  const model =
    read !== undefined
      ? await normalise(read.input, read.locator, sink, {
          services: context.services,
          ...(read.damaged !== undefined ? { damaged: read.damaged } : {}),
        })
      : undefined;
  if (model !== undefined && read !== undefined && options.host !== undefined) checkHost(model, options.host, read.locator, sink);
  if (model === undefined || sink.hasErrors) throw new ConfigError(sink.errors, sink.warnings);
  return { model, warnings: sink.warnings, format };
}

const frontEnds: Record<ConfigFormat, (text: string, context: FrontEndContext) => Promise<FrontEndResult | undefined>> = {
  yaml: (text, context) => Promise.resolve(readYaml(text, context.sink)),
  'lvs.cf': readLvsCf,
  ipvsadm: readIpvsadmRules,
  'lvs.conf': readLvsConf,
  keepalived: readKeepalived,
  ldirectord: readLdirectord,
};

/** Size, emptiness and binary content: before any format is guessed. `file`: an
 *  included file, named in the diagnostics. */
function checkText(text: string, sink: DiagnosticSink, file?: string): void {
  const at = (line: number, column: number): SourceLocation => (file !== undefined ? { line, column, file } : { line, column });
  if (Buffer.byteLength(text) > maxConfigBytes) {
    sink.error(at(1, 1), {
      message: 'file too large for a configuration',
      expected: `at most ${maxConfigBytes} bytes`,
      found: `${Buffer.byteLength(text)} bytes`,
    });
    return;
  }
  // An empty included file is an empty conf.d entry, not a mistake.
  if (text.trim() === '' && file === undefined) {
    sink.error(
      { line: 1, column: 1 },
      { message: 'the file is empty', expected: 'a configuration', found: text === '' ? 'an empty file' : 'only blanks' },
    );
    return;
  }
  const binary = firstBinaryCharacter(text);
  if (binary !== -1) {
    const before = text.slice(0, binary);
    const line = before.split('\n').length;
    const column = binary - before.lastIndexOf('\n');
    const code = text.charCodeAt(binary);
    sink.error(at(line, column), {
      message: 'binary data in a configuration file',
      expected: 'UTF-8 text',
      found: code === 0xfffd ? 'bytes that are not UTF-8' : `control character 0x${code.toString(16).padStart(2, '0')}`,
    });
  }
}

/** NUL and other control characters (but tab, line ends, vertical tab, form feed) and
 *  undecodable bytes (U+FFFD after decoding) mean this is not a text file; -1: none. */
function firstBinaryCharacter(text: string): number {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code <= 0x08 || (code >= 0x0e && code <= 0x1f) || code === 0x7f || code === 0xfffd) return index;
  }
  return -1;
}
