// The backup's external cache of one table kind: the peer's entries by key, each
// expiring at its own time (the lifetime it had left when the active captured it,
// from when it arrived here), bounded in size. Pure data structure, no clock of its
// own: every call that depends on time is given `now`.
//
// Expiry uses a min-heap of (time, key, version) with lazy deletion: an update
// pushes a new item and leaves the old one to be skipped, so updating an entry and
// expiring the due ones are both O(log n), never a sweep of the whole cache.

export interface CachedEntry<Entry> {
  key: string;
  entry: Entry;
  /** Monotonic ms. */
  expiresAt: number;
}

interface Slot<Entry> {
  entry: Entry;
  expiresAt: number;
  version: number;
  /** The bulk resync it was last refreshed in: an older one is stale at the resync's end. */
  generation: number;
}

interface Due {
  at: number;
  key: string;
  version: number;
}

export type PutResult = 'added' | 'updated' | 'full';

export class ExternalCache<Entry> {
  private readonly slots = new Map<string, Slot<Entry>>();
  private readonly heap: Due[] = [];
  private nextVersion = 1;
  private generation = 0;

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.slots.size;
  }

  /** Adds or refreshes an entry; a new one is refused when the cache is full. */
  put(key: string, entry: Entry, expiresAt: number): PutResult {
    const existing = this.slots.get(key);
    if (!existing && this.slots.size >= this.maxEntries) return 'full';
    const version = this.nextVersion++;
    this.slots.set(key, { entry, expiresAt, version, generation: this.generation });
    this.push({ at: expiresAt, key, version });
    this.compactIfSparse();
    return existing ? 'updated' : 'added';
  }

  delete(key: string): boolean {
    return this.slots.delete(key);
  }

  /** A bulk resync begins: what is not refreshed before dropStale() is gone from the peer. */
  markStale(): void {
    this.generation += 1;
  }

  /** Removes the entries not refreshed since markStale(); returns how many. */
  dropStale(): number {
    let dropped = 0;
    for (const [key, slot] of this.slots) {
      if (slot.generation < this.generation) {
        this.slots.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Removes the entries due by `now`; returns how many. */
  expire(now: number): number {
    let expired = 0;
    for (let top = this.heap[0]; top && top.at <= now; top = this.heap[0]) {
      this.pop();
      if (this.slots.get(top.key)?.version === top.version) {
        this.slots.delete(top.key);
        expired += 1;
      }
    }
    return expired;
  }

  /** When the next entry expires (undefined: none held). */
  nextExpiry(): number | undefined {
    while (this.heap[0] && this.slots.get(this.heap[0].key)?.version !== this.heap[0].version) this.pop();
    return this.heap[0]?.at;
  }

  /** The entries not expired at `now`, in the order they were first added. */
  entries(now: number): Array<CachedEntry<Entry>> {
    const live: Array<CachedEntry<Entry>> = [];
    for (const [key, { entry, expiresAt }] of this.slots) if (expiresAt > now) live.push({ key, entry, expiresAt });
    return live;
  }

  clear(): void {
    this.slots.clear();
    this.heap.length = 0;
  }

  /** Updates leave dead heap items behind; rebuilt when they outnumber the live ones. */
  private compactIfSparse(): void {
    if (this.heap.length <= 2 * this.slots.size + 1024) return;
    this.heap.length = 0;
    for (const [key, { expiresAt, version }] of this.slots) this.push({ at: expiresAt, key, version });
  }

  private push(item: Due): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Due;
      if (above.at <= item.at) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as Due).at < (heap[left] as Due).at ? right : left;
      const below = heap[child] as Due;
      if (below.at >= last.at) break;
      heap[i] = below;
      i = child;
    }
    heap[i] = last;
  }
}
