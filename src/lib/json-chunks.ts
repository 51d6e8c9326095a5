// JSON.stringify for answers that hold a big table (`tandem status` of 100,000 services is
// tens of MB): one call would hold the event loop for seconds. The text comes in chunks,
// a time slice's worth each. Plain objects and arrays are walked; an array's elements are
// taken as the rows of a table, each one JSON.stringify (an element that is an array is walked).
// A JsonRows is written as the array it holds the text of.
import { TimeSlice } from './time-slice.js';

/**
 * An array whose rows are written as JSON elsewhere (the balancer's thread) and come as
 * that text, a fragment of rows at a time, as they are read: the event loop holds neither
 * the rows nor the whole text. jsonChunks writes it as the array; `parsed` gives the rows.
 * Read once.
 */
export class JsonRows<T> {
  private read = false;

  /** `fragments`: the rows, each JSON, joined by commas, a fragment per item. */
  constructor(
    readonly length: number,
    private readonly fragments: () => AsyncGenerator<string>,
  ) {}

  /** The array's text, a fragment at a time. */
  async *text(): AsyncGenerator<string> {
    yield '[';
    let first = true;
    for await (const fragment of this.take()) {
      if (fragment === '') continue;
      yield first ? fragment : `,${fragment}`;
      first = false;
    }
    yield ']';
  }

  /** The rows, a fragment's worth at a time. */
  async *parsed(): AsyncGenerator<T[]> {
    for await (const fragment of this.take()) if (fragment !== '') yield JSON.parse(`[${fragment}]`) as T[];
  }

  private take(): AsyncGenerator<string> {
    if (this.read) throw new Error('the rows were read already');
    this.read = true;
    return this.fragments();
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !('toJSON' in value);

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (value: unknown) => value === undefined || typeof value === 'function' || typeof value === 'symbol';

/** The text of `value` in small pieces, as JSON.stringify(value) would write it. */
function* pieces(value: unknown): Generator<string | JsonRows<unknown>> {
  if (value instanceof JsonRows) {
    yield value;
  } else if (Array.isArray(value)) {
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

/** JSON.stringify(value) (no replacer, no indent), a chunk per time slice, and each of a
 *  JsonRows' fragments a chunk of its own as it comes; `value` must not change until the
 *  last chunk. `turn` as for TimeSlice. */
export async function* jsonChunks(value: unknown, turn?: () => Promise<unknown>): AsyncGenerator<string> {
  let slice = new TimeSlice(turn);
  let chunk: string[] = [];
  for (const piece of pieces(value)) {
    if (typeof piece === 'string') {
      chunk.push(piece);
    } else {
      for await (const text of piece.text()) {
        chunk.push(text);
        yield chunk.join('');
        chunk = [];
      }
      // each fragment came in a turn of its own
      slice = new TimeSlice(turn);
    }
    if (slice.spent) {
      yield chunk.join('');
      chunk = [];
      await slice.next();
    }
  }
  yield chunk.join('');
}
