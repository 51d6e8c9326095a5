// What a health check expects in an answer. Here, not in health/, because the config
// loader compiles it too: a use_regex pattern that does not compile is bad input (file, line, key).
import { printable } from './printable.js';

/** Piranha's `expect`: a substring, or with `use_regex` a regular expression (JavaScript syntax). */
export interface Expectation {
  matches(received: string): boolean;
  /** For messages: "HTTP" or /^220 /. */
  readonly description: string;
}

/** Throws a SyntaxError naming the pattern when `useRegex` is set and it does not compile. */
export function compileExpectation(pattern: string, useRegex: boolean): Expectation {
  if (!useRegex) {
    return { matches: (received) => received.includes(pattern), description: `"${printable(pattern)}"` };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (error) {
    throw new SyntaxError(`invalid regular expression /${pattern}/: ${(error as Error).message}`);
  }
  return { matches: (received) => regex.test(received), description: `/${pattern}/` };
}
