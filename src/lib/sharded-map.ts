// A Map by string too big to grow in one go on the event loop: V8 rehashes a Map whole when
// it doubles, which at 65,536 entries takes 5–12 ms, at 131,072 6–20 ms and at 262,144 18–28 ms
// (one set() call, measured under --single-threaded-gc). Spread over 64 Maps by a hash
// of the key, each doubling moves a sixty-fourth of the entries; the order of insertion is
// kept in two arrays, which grow by copying (a few ms at a million entries), not rehashing.

const SHARDS = 64;

/** FNV-1a over the key's UTF-16 code units. */
function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

/** A Map<string, V> that only grows: set (adding or replacing) and reading, in insertion order. */
export class ShardedMap<V> implements ReadonlyMap<string, V> {
  /** Each key's index in `keyList` and `valueList`. */
  private readonly shards = Array.from({ length: SHARDS }, () => new Map<string, number>());
  private readonly keyList: string[] = [];
  private readonly valueList: V[] = [];

  get size(): number {
    return this.keyList.length;
  }

  get(key: string): V | undefined {
    const index = this.shard(key).get(key);
    return index === undefined ? undefined : this.valueList[index];
  }

  has(key: string): boolean {
    return this.shard(key).has(key);
  }

  set(key: string, value: V): this {
    const shard = this.shard(key);
    const index = shard.get(key);
    if (index !== undefined) this.valueList[index] = value;
    else {
      shard.set(key, this.keyList.length);
      this.keyList.push(key);
      this.valueList.push(value);
    }
    return this;
  }

  *entries(): MapIterator<[string, V]> {
    for (let index = 0; index < this.keyList.length; index++) yield [this.keyList[index] as string, this.valueList[index] as V];
  }

  keys(): MapIterator<string> {
    return this.keyList.values();
  }

  values(): MapIterator<V> {
    return this.valueList.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(visit: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) visit(value, key, this);
  }

  private shard(key: string): Map<string, number> {
    return this.shards[shardOf(key)] as Map<string, number>;
  }
}
