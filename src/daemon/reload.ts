// A reload compares the running configuration with the file as it is now: what
// cannot change without a restart (who the two nodes are, how they reach each
// other), and what changed, one line per change for the `config.reload` event and
// `tandem reload`. Pure, returning to the event loop while it compares big tables.
import type { Keyring } from '../cluster/index.js';
import { ConfigError, ipvsSyncOverChannel, type Diagnostic } from '../config/index.js';
import { formatConfigDuration } from '../lib/duration.js';
import type { ClaimedAddress, Model, NodeSpec } from '../config/model.js';
import type { ReloadOutcome } from '../control/index.js';
import { samePlainData } from '../lib/plain-data.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { TimeSlice } from '../lib/time-slice.js';
import { cidrOf } from './host-plan.js';

export interface PairConfig {
  model: Model;
  self: NodeSpec;
  peer?: NodeSpec;
}

export interface LoadedConfig extends PairConfig {
  warnings: Diagnostic[];
  keyring?: Keyring;
}

/** The configuration file as it is now, for a reload; throws ConfigError (or an Error saying why)
 *  when it cannot be used. `running`: the model it may replace, whose unchanged services the new one shares. */
export type ConfigLoader = (running?: Model) => Promise<LoadedConfig>;

export type ReloadVerdict =
  | { ok: true; next: LoadedConfig; message: string; changes: string[]; diagnostics: Diagnostic[] }
  | { ok: false; code: NonNullable<ReloadOutcome['code']>; message: string; diagnostics: Diagnostic[] };

/** Whether the file as loaded (or the error loading it) can replace the running configuration, and what it changes. */
export async function reloadVerdict(running: PairConfig, loaded: LoadedConfig | Error): Promise<ReloadVerdict> {
  if (loaded instanceof ConfigError)
    return {
      ok: false,
      code: 'invalid-config',
      message: `the configuration has ${loaded.diagnostics.length} error(s); nothing changed`,
      diagnostics: [...loaded.diagnostics, ...loaded.warnings],
    };
  if (loaded instanceof Error) return { ok: false, code: 'invalid-config', message: `${loaded.message}; nothing changed`, diagnostics: [] };
  const restart = restartNeeded(running, loaded);
  if (restart.length > 0)
    return {
      ok: false,
      code: 'restart-needed',
      message: `restart tandem to apply: ${restart.join('; ')}; nothing changed`,
      diagnostics: loaded.warnings,
    };
  const changes = await configChanges(running.model, loaded.model);
  return {
    ok: true,
    next: loaded,
    message: changes.length > 0 ? `${changes.length} change(s) applied` : 'nothing changed',
    changes,
    diagnostics: loaded.warnings,
  };
}

const show = (value: unknown): string => (value === undefined ? 'none' : typeof value === 'string' ? value : JSON.stringify(value));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Why the new configuration needs a restart; empty when a reload can apply it. */
export function restartNeeded(running: PairConfig, next: PairConfig): string[] {
  const reasons: string[] = [];
  const differs = (what: string, a: unknown, b: unknown) => {
    if (!same(a, b)) reasons.push(`${what}: ${show(a)} -> ${show(b)}`);
  };
  differs('cluster', running.model.cluster, next.model.cluster);
  differs('this node', running.self.name, next.self.name);
  differs('peer', running.peer?.name, next.peer?.name);
  for (const [which, a, b] of [
    ['this node', running.self, next.self],
    ['peer', running.peer, next.peer],
  ] as const) {
    differs(`${which}'s address`, a?.address, b?.address);
    differs(`${which}'s private address`, a?.privateAddress, b?.privateAddress);
  }
  differs('heartbeat.port', running.model.heartbeat.port, next.model.heartbeat.port);
  differs('metrics', running.model.metrics, next.model.metrics);
  // The sync channel and its tables are built at start.
  const syncChannel = ({ sync }: Model) => ({
    port: sync.port,
    conntrack: sync.conntrack,
    ipvs: ipvsSyncOverChannel(sync),
    ipvsKernel: sync.ipvsKernel,
  });
  differs('sync (port, conntrack, ipvs)', syncChannel(running.model), syncChannel(next.model));
  return reasons;
}

const addressText = (a: ClaimedAddress) => `${cidrOf(a)}${a.label ? ` (${a.label})` : a.device ? ` (${a.device})` : ''}`;

/** What changed between two configurations of the same pair, one line each. */
export async function configChanges(before: Model, after: Model): Promise<string[]> {
  const changes: string[] = [];
  // one slice for the whole description: a list that ends within a slice leaves the rest of it to the next
  const slice = new TimeSlice();
  const value = (key: string, a: unknown, b: unknown) => {
    if (!same(a, b)) changes.push(`${key}: ${show(a)} -> ${show(b)}`);
  };
  value('serial_no', before.serialNo, after.serialNo);
  for (const key of ['keepalive', 'deadtime', 'warntime', 'initdead'] as const) {
    value(`heartbeat.${key}`, formatConfigDuration(before.heartbeat[key]), formatConfigDuration(after.heartbeat[key]));
  }
  for (const node of after.nodes)
    value(`nodes.${node.name}.priority`, before.nodes.find((n) => n.name === node.name)?.priority, node.priority);
  value('preempt', before.preempt, after.preempt);
  value('auth.key_file', before.auth.keyFile, after.auth.keyFile);
  value('auth.key_id', before.auth.keyId, after.auth.keyId);
  value('network', before.network, after.network);
  value('enable_forwarding', before.enableForwarding, after.enableForwarding);
  changeLine(
    changes,
    'addresses',
    await keyChanges(
      slice,
      () => managedVips(before),
      () => managedVips(after),
      addressText,
    ),
  );
  changeLine(
    changes,
    'virtual_services',
    await keyChanges(
      slice,
      () => before.virtualServices,
      () => after.virtualServices,
      (service) => service.name,
      samePlainData,
    ),
  );
  for (const key of ['activeCmd', 'inactiveCmd', 'notify', 'timeout'] as const) value(`hooks.${key}`, before.hooks[key], after.hooks[key]);
  value('announce', before.announce, after.announce);
  value('monitor_links', before.monitorLinks, after.monitorLinks);
  value('sync', before.sync, after.sync);
  value('ipvs_timeouts', before.ipvsTimeouts, after.ipvsTimeouts);
  value('keep_services_on_release', before.keepServicesOnRelease, after.keepServicesOnRelease);
  return changes;
}

/** The addresses managedAddresses lists, one at a time: a model may have a VIP per service.
 *  A service without one is a place with none, so that the slices count every service: a table
 *  of 100,000 firewall marks has no VIP to stop at, and one step over it held the loop 11–21 ms. */
function* managedVips(model: Model): Generator<ClaimedAddress | undefined> {
  for (const service of model.virtualServices) yield service.vip;
  if (model.natRouter) yield model.natRouter;
}

/**
 * The keys of the items added, removed and changed (not `same`), a time slice at a time: a
 * model may hold 100,000 services, and as many VIPs. A reload mostly keeps the file's order,
 * so the two lists are walked side by side, and only the items out of step go into maps
 * (sharded: src/lib/sharded-map.ts): two maps of every key were 100,000 entries each on the
 * event loop's heap, which it then collected for milliseconds at a time. A key may repeat
 * (services share a VIP): one out of step on one side only is looked for in the whole of
 * the other before it counts as added or removed. Compared as data, not as JSON.
 */
async function keyChanges<T>(
  slice: TimeSlice,
  before: () => Iterable<T | undefined>,
  after: () => Iterable<T | undefined>,
  keyOf: (item: T) => string,
  same: (a: T, b: T) => boolean = () => true,
): Promise<KeyChanges> {
  const modified: string[] = [];
  const [wasApart, isApart] = [new ShardedMap<T>(), new ShardedMap<T>()];
  const [was, is] = [before()[Symbol.iterator](), after()[Symbol.iterator]()];
  for (;;) {
    if (slice.spent) await slice.next();
    const old = was.next();
    const item = is.next();
    if (old.done && item.done) break;
    const a = old.done ? undefined : old.value;
    const b = item.done ? undefined : item.value;
    if (a !== undefined && b !== undefined && keyOf(a) === keyOf(b)) {
      if (!same(a, b)) modified.push(keyOf(b));
      continue;
    }
    if (a !== undefined) wasApart.set(keyOf(a), a);
    if (b !== undefined) isApart.set(keyOf(b), b);
  }
  const [added, removed] = [new ShardedMap<boolean>(), new ShardedMap<boolean>()];
  for (const [key, item] of isApart) {
    if (slice.spent) await slice.next();
    const old = wasApart.get(key);
    if (old === undefined) added.set(key, false);
    else if (!same(old, item)) modified.push(key);
  }
  for (const key of wasApart.keys()) {
    if (slice.spent) await slice.next();
    if (!isApart.has(key)) removed.set(key, false);
  }
  /** The keys of `apart` that none of `items` has. */
  const missingFrom = async (apart: ShardedMap<boolean>, items: () => Iterable<T | undefined>) => {
    if (apart.size > 0)
      for (const item of items()) {
        if (slice.spent) await slice.next();
        if (item === undefined) continue;
        const key = keyOf(item);
        if (apart.has(key)) apart.set(key, true);
      }
    const missing: string[] = [];
    for (const [key, found] of apart) {
      if (slice.spent) await slice.next();
      if (!found) missing.push(key);
    }
    return missing;
  };
  return { added: await missingFrom(added, before), removed: await missingFrom(removed, after), modified };
}

/** Names listed in one change line; beyond, a count (a line naming 100,000 services says nothing). */
const listedAtMost = 20;

interface KeyChanges {
  added: string[];
  removed: string[];
  modified: string[];
}

function changeLine(changes: string[], key: string, { added, removed, modified }: KeyChanges): void {
  const parts = [...added.map((x) => `+${x}`), ...removed.map((x) => `-${x}`), ...modified.map((x) => `~${x}`)];
  if (parts.length === 0) return;
  const more = parts.length - listedAtMost;
  changes.push(`${key}: ${parts.slice(0, listedAtMost).join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
}
