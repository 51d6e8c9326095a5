// JSON.stringify for answers that hold a big table (`tandem status` of 100,000 services is
// tens of MB): one call would hold the event loop for seconds. The text comes in chunks,
// a time slice's worth each. Plain objects and arrays are walked; an array's elements are
// taken as the rows of a table, each one JSON.stringify (an element that is an array is walked).
import { TimeSlice } from './time-slice.js';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !('toJSON' in value);

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (value: unknown) => value === undefined || typeof value === 'function' || typeof value === 'symbol';

/** The text of `value` in small pieces, as JSON.stringify(value) would write it. */
function* pieces(value: unknown): Generator<string> {
  if (Array.isArray(value)) {
    yield '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) yield ',';
      const item: unknown = value[index];
      if (omitted(item)) yield 'null';
      else if (Array.isArray(item)) yield* pieces(item);
      else yield JSON.stringify(item); // a row of a table: small
    }
    yield ']';
  } else if (isPlainObject(value)) {
    yield '{';
    let first = true;
    for (const [key, item] of Object.entries(value)) {
      if (omitted(item)) continue;
      yield `${first ? '' : ','}${JSON.stringify(key)}:`;
      first = false;
      yield* pieces(item);
    }
    yield '}';
  } else {
    yield JSON.stringify(value);
  }
}

/** JSON.stringify(value) (no replacer, no indent), a chunk per time slice; `value` must not
 *  change until the last chunk. `turn` as for TimeSlice. */
export async function* jsonChunks(value: unknown, turn?: () => Promise<unknown>): AsyncGenerator<string> {
  const slice = new TimeSlice(turn);
  let chunk: string[] = [];
  for (const piece of pieces(value)) {
    chunk.push(piece);
    if (slice.spent) {
      yield chunk.join('');
      chunk = [];
      await slice.next();
    }
  }
  yield chunk.join('');
}
