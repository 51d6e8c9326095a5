// A SyncedTable in memory, for tests of the sync engine's driver: entries are
// `{ key, value, timeoutMs }`, changed by hand, dumped in chunks, and what a commit
// writes is kept.
import type { CommitResult, SyncedTable, TableChange } from '../../src/sync/index.js';

export interface MemoryEntry {
  key: string;
  value: string;
  timeoutMs: number;
}

export class MemorySyncedTable implements SyncedTable<MemoryEntry> {
  readonly entries = new Map<string, MemoryEntry>();
  readonly committed: MemoryEntry[] = [];
  private readonly listeners = new Set<(changes: readonly TableChange<MemoryEntry>[]) => void>();

  constructor(
    readonly kind: 'conntrack' | 'ipvs' = 'conntrack',
    readonly commitPolicy: 'on-takeover' | 'write-through' = 'on-takeover',
    private readonly chunkSize = 100,
  ) {}

  set(key: string, value: string, timeoutMs = 600_000): void {
    const entry = { key, value, timeoutMs };
    this.entries.set(key, entry);
    for (const listener of this.listeners) listener([{ type: 'upsert', entry }]);
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const listener of this.listeners) listener([{ type: 'remove', entry }]);
  }

  key(entry: MemoryEntry): string {
    return entry.key;
  }

  encode(entry: MemoryEntry): Uint8Array {
    return Buffer.from(JSON.stringify(entry));
  }

  decode(bytes: Uint8Array): MemoryEntry {
    const parsed = JSON.parse(Buffer.from(bytes).toString()) as Partial<MemoryEntry>;
    if (typeof parsed.key !== 'string' || typeof parsed.value !== 'string' || typeof parsed.timeoutMs !== 'number')
      throw new Error('not a memory entry');
    return { key: parsed.key, value: parsed.value, timeoutMs: parsed.timeoutMs };
  }

  timeoutMs(entry: MemoryEntry): number {
    return entry.timeoutMs;
  }

  async *dump(): AsyncIterable<readonly MemoryEntry[]> {
    const all = [...this.entries.values()];
    for (let i = 0; i < all.length; i += this.chunkSize) {
      await Promise.resolve();
      yield all.slice(i, i + this.chunkSize);
    }
  }

  watch(onChanges: (changes: readonly TableChange<MemoryEntry>[]) => void): () => void {
    this.listeners.add(onChanges);
    return () => this.listeners.delete(onChanges);
  }

  commit(entries: readonly MemoryEntry[]): Promise<CommitResult> {
    this.committed.push(...entries);
    return Promise.resolve({ written: entries.length, failed: 0 });
  }

  close(): void {
    this.listeners.clear();
  }
}
