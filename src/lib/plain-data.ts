// Equality of the configuration loader's plain data, for the reload's comparisons of
// 100,000 services: about a third of isDeepStrictEqual's cost on objects, arrays, strings,
// numbers and booleans, and without an array of keys per object compared (several per
// service): V8 marks a big heap in steps paid for by whatever allocates.
import { isDeepStrictEqual } from 'node:util';

/** Equal as plain data; anything that is not a plain object or array is left to isDeepStrictEqual. */
export function samePlainData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const prototype: unknown = Object.getPrototypeOf(a);
  if (prototype !== Object.getPrototypeOf(b)) return false;
  if (prototype === Array.prototype) return sameItems(a as unknown[], b as unknown[]);
  if (prototype !== Object.prototype) return isDeepStrictEqual(a, b);
  return sameProperties(a as Record<string, unknown>, b as Record<string, unknown>);
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (!samePlainData(a[index], b[index])) return false;
  return true;
}

/** for-in over an object of the loader's walks V8's cache of its keys: no array per object. */
function sameProperties(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let unmatched = 0;
  for (const key in a) {
    if (!Object.hasOwn(b, key) || !samePlainData(a[key], b[key])) return false;
    unmatched += 1;
  }
  for (const key in b) if (Object.hasOwn(b, key)) unmatched -= 1;
  return unmatched === 0;
}
