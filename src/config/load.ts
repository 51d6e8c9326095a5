// Reading a configuration file: the six front ends, the schema and the checks that make one
// validated Model. Imported on demand (index.ts): the daemon's event loop never parses, its
// loader thread does, and these modules would cost the loop memory for nothing.
import { stat, readFile } from 'node:fs/promises';
import { ConfigError, DiagnosticSink, quote, type Diagnostic, type SourceLocation } from './diagnostics.js';
import { detectFormat, type ConfigFormat, type FrontEndContext, type FrontEndResult } from './frontend.js';
import { checkHost, type HostFacts } from './host.js';
import { readIpvsadmRules } from './ipvsadm-rules.js';
import { maxConfigBytes } from './limits.js';
import { readKeepalived } from './keepalived.js';
import { readLdirectord } from './ldirectord.js';
import { readLvsCf } from './lvscf.js';
import { readLvsConf } from './lvsconf.js';
import type { Model } from './model.js';
import { normalise } from './normalise.js';
import { systemHostResolver, systemServiceResolver, type HostResolver, type ServiceResolver } from './resolve.js';
import { readYaml } from './yaml.js';

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
  const files: FileOwnership[] = [];
  const text = await readConfigText(path, sink, files);
  sink.throwIfErrors();
  return parseFiles(text ?? '', path, options, files);
}

/** Who may change a file read: a configuration that runs commands must be root's alone. */
interface FileOwnership {
  path: string;
  uid: number;
  mode: number;
}

/** A configuration file's text, or undefined after reporting to `sink` why not. A file
 *  other than the sink's own (an include) is named in the diagnostics. `files`: where
 *  the owner and mode of each file read are noted. */
async function readConfigText(path: string, sink: DiagnosticSink, files?: FileOwnership[]): Promise<string | undefined> {
  const file = path === sink.file ? {} : { file: path };
  try {
    const { size, uid, mode } = await stat(path);
    files?.push({ path, uid, mode });
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
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Promise<LoadResult> {
  return parseFiles(text, file, options);
}

/** `files`: the files read, to check when the configuration runs commands; none for text. */
async function parseFiles(text: string, file: string, options: LoadOptions, files?: FileOwnership[]): Promise<LoadResult> {
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
      const included = await readConfigText(path, sink, files);
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
  if (model !== undefined && files !== undefined) checkCommandFiles(model, files, sink);
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

/** The first key that makes tandem run a command, as the YAML names it; undefined when none does. */
function commandKey(model: Model): string | undefined {
  const { activeCmd, inactiveCmd, notify } = model.hooks;
  if (activeCmd !== undefined) return 'hooks.active_cmd';
  if (inactiveCmd !== undefined) return 'hooks.inactive_cmd';
  if (notify !== undefined) return 'hooks.notify';
  const exec = model.virtualServices.findIndex((service) => service.healthCheck.sendProgram !== undefined);
  return exec < 0 ? undefined : `virtual_services[${exec}].health_check.send_program`;
}

/**
 * The daemon runs the commands a configuration names as root: whoever may change one of
 * its files may run anything as root. Such files must belong to root (or the user running
 * tandem) and be writable by no one else, as the key file must.
 */
function checkCommandFiles(model: Model, files: FileOwnership[], sink: DiagnosticSink): void {
  const key = commandKey(model);
  if (key === undefined) return;
  const self = process.geteuid?.() ?? 0;
  for (const { path, uid, mode } of files) {
    const problem =
      uid !== 0 && uid !== self
        ? `belongs to uid ${uid}`
        : (mode & 0o022) !== 0
          ? `is writable by ${(mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`
          : undefined;
    if (problem === undefined) continue;
    sink.error(
      { line: 0, column: 0, ...(path === sink.file ? {} : { file: path }) },
      {
        key,
        message: `the configuration runs commands as root (${key}), and ${path} ${problem}: whoever can change it can run anything as root`,
        expected: 'a file owned by root and not writable by group or others (chown root; chmod go-w)',
        found: quote(path),
      },
    );
  }
}

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
