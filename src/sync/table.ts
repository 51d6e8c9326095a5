// The contract between the sync engine (reliable delivery, cache, expiry, commit plan)
// and the kernel tables it keeps warm on the peer. Each table kind (conntrack through
// ctnetlink, IPVS connections) implements it; the engine never touches the kernel.

export type SyncKind = 'conntrack' | 'ipvs';

export type TableChange<Entry> = { readonly type: 'upsert'; readonly entry: Entry } | { readonly type: 'remove'; readonly entry: Entry };

export interface CommitResult {
  readonly written: number;
  readonly failed: number;
  readonly firstError?: string;
}

export interface SyncedTable<Entry> {
  readonly kind: SyncKind;
  // conntrack waits in the backup's cache until a takeover commits it (a conntrack entry
  // in the backup's kernel would be used by the backup's own traffic); IPVS entries are
  // written as they arrive, where the kernel keeps them as synced connections.
  readonly commitPolicy: 'on-takeover' | 'write-through';
  // Stable identity of an entry (its original direction), the cache's key.
  key(entry: Entry): string;
  encode(entry: Entry): Uint8Array;
  // Throws on malformed bytes; the engine counts and drops the record.
  decode(bytes: Uint8Array): Entry;
  // The lifetime the entry had left when captured, for the backup cache's own expiry.
  timeoutMs(entry: Entry): number;
  // Active side: the whole table, chunked so no chunk holds the event loop long.
  dump(): AsyncIterable<readonly Entry[]>;
  // Active side: kernel changes as they happen. onLost means events were dropped
  // (e.g. ENOBUFS) and only a full resync restores the peer. Returns a stop function.
  watch(onChanges: (changes: readonly TableChange<Entry>[]) => void, onLost: () => void): () => void;
  // Backup side: write entries into the local kernel, batched.
  commit(entries: readonly Entry[]): Promise<CommitResult>;
  close(): void;
}
