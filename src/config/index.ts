// The configuration: six front ends (tandem.yaml, Piranha lvs.cf, ipvsadm rules,
// lvs-director's lvs.conf, keepalived.conf, ldirectord.cf), one validated Model. See README "Configuration".
// The parsers (load.ts, yaml.ts) are imported when first asked for: a daemon's event loop
// never parses (its loader thread does), and they would hold about 14 MB of its memory.
import type { LoadOptions, LoadResult } from './load.js';
import type { Model } from './model.js';

export type * from './model.js';
export type { LoadOptions, LoadResult } from './load.js';
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
export { defaultRealServerName, ipvsKernelSyncDefaults } from './defaults.js';
export { ipvsSyncOverChannel, wireSyncDaemons } from './sync-carrier.js';
export { loadConfigOffThread, type OffThreadLoadOptions } from './off-thread.js';
export { maxConfigBytes } from './limits.js';

/** Reads and validates a configuration file. Throws ConfigError with every error of
 *  the file (and its warnings) when it is invalid or cannot be read. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  return (await import('./load.js')).loadConfig(path, options);
}

/** The same as loadConfig, from text; `file` names it in diagnostics. */
export async function parseConfig(text: string, file: string, options: LoadOptions = {}): Promise<LoadResult> {
  return (await import('./load.js')).parseConfig(text, file, options);
}

/** The model as tandem.yaml: every value that differs from what an absent key means. */
export async function toYaml(model: Model): Promise<string> {
  return (await import('./yaml.js')).toYaml(model);
}
