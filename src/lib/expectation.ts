// What a health check expects in an answer. Here, not in health/, because the config
// loader compiles it too: a use_regex pattern that does not compile is bad input (file, line, key).
import { StringDecoder } from 'node:string_decoder';
import { printable } from './printable.js';
import { LinearRegex } from './regex.js';

/** Piranha's `expect`: a substring, or with `use_regex` a regular expression (see regex.ts for the syntax). */
export interface Expectation {
  matches(received: string): boolean;
  /** For an answer arriving in pieces: each piece is searched once, never the earlier ones again. */
  matcher(): ChunkMatcher;
  /** For messages: "HTTP" or /^220 /. */
  readonly description: string;
}

export interface ChunkMatcher {
  /** True once what was fed so far matches; a UTF-8 character split between chunks is joined. */
  feed(chunk: Buffer): boolean;
}

/** Throws a SyntaxError naming the pattern when `useRegex` is set and it is invalid or unsupported. */
export function compileExpectation(pattern: string, useRegex: boolean): Expectation {
  let regex: LinearRegex;
  try {
    regex = useRegex ? LinearRegex.compile(pattern) : LinearRegex.literal(pattern);
  } catch (error) {
    throw new SyntaxError(`invalid regular expression /${pattern}/: ${(error as Error).message}`);
  }
  return {
    matches: (received) => regex.test(received),
    matcher: () => {
      const decoder = new StringDecoder('utf8');
      const match = regex.matcher();
      return { feed: (chunk) => match.feed(decoder.write(chunk)) };
    },
    description: useRegex ? `/${pattern}/` : `"${printable(pattern)}"`,
  };
}
