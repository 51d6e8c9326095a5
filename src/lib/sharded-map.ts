// A Map by string too big to grow in one go on the event loop: V8 rehashes a Map whole when
// it doubles, which at 131,072 entries takes 18–20 ms and at 262,144 some 27 ms (one set()
// call, measured under --single-threaded-gc). Spread over 64 Maps by a hash of the key,
// each doubling moves a sixty-fourth of the entries.

const SHARDS = 64;

/** FNV-1a over the key's UTF-16 code units. */
function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

/** get/set/has of a Map<string, V>, without its order (keep one apart where it matters). */
export class ShardedMap<V> {
  private readonly shards = Array.from({ length: SHARDS }, () => new Map<string, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }

  has(key: string): boolean {
    return this.shard(key).has(key);
  }

  set(key: string, value: V): this {
    const shard = this.shard(key);
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
    return this;
  }

  private shard(key: string): Map<string, V> {
    return this.shards[shardOf(key)] as Map<string, V>;
  }
}
