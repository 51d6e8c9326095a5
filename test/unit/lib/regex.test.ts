import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileExpectation } from '../../../src/lib/expectation.js';
import { LinearRegex, maxRepeat } from '../../../src/lib/regex.js';

/** Patterns in the syntax both engines read the same way. */
const pattern: fc.Arbitrary<string> = fc.letrec<{ node: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b', 'c', '.', '[ab]', '[^a]', '\\d', '\\w', '\\s', '\\b', '^', '$', 'x', '1', ' '),
    tie('node').map((inner) => `(${inner})`),
    tie('node').map((inner) => `(?:${inner})`),
  ),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('atom'),
    fc
      .tuple(tie('atom'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}', '*?'))
      .map(([atom, quantifier]) => (/^[\^$]$|^\\b$/.test(atom) ? atom : atom + quantifier)),
    fc.array(tie('node'), { minLength: 2, maxLength: 4 }).map((items) => items.join('')),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((items) => items.join('|')),
  ),
})).node;

const text = fc.stringMatching(/^[abcx1 \n!]{0,24}$/);

describe('LinearRegex', () => {
  it('agrees with JavaScript RegExp on whether a pattern matches', () => {
    fc.assert(
      fc.property(pattern, text, (source, subject) => {
        expect(LinearRegex.compile(source).test(subject), `/${source}/ on ${JSON.stringify(subject)}`).toBe(
          new RegExp(source).test(subject),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same answer fed in chunks as fed at once', () => {
    fc.assert(
      fc.property(pattern, text, fc.array(fc.nat(24)), (source, subject, cuts) => {
        const regex = LinearRegex.compile(source);
        const matcher = regex.matcher();
        let at = 0;
        let matched = false;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          matched ||= matcher.feed(subject.slice(at, Math.max(at, cut)));
          at = Math.max(at, cut);
        }
        matched ||= matcher.feed(subject.slice(at));
        // `$` holds at the end of every chunk: a match on the way counts, as a reply read so far does
        const prefixes = [...cuts, subject.length].map((cut) => subject.slice(0, Math.min(cut, subject.length)));
        expect(matched).toBe(prefixes.some((prefix) => new RegExp(source).test(prefix)));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches (a+)+$ against 64 KiB of a and a ! in linear time', () => {
    const regex = LinearRegex.compile('(a+)+$');
    const matcher = regex.matcher();
    const subject = 'a'.repeat(64 * 1024) + '!';
    expect(matcher.feed(subject)).toBe(false);
    // a backtracking engine takes some 2^65536 steps; this one a few per character and instruction
    expect(matcher.steps).toBeLessThanOrEqual(regex.size * (subject.length + 1) * 2);
  });

  it('searches each chunk once: a trickled answer costs what a whole one does', () => {
    const regex = LinearRegex.compile('(x|xy)*z');
    const whole = regex.matcher();
    const subject = 'xy'.repeat(16 * 1024);
    whole.feed(subject);
    const trickled = regex.matcher();
    for (const char of subject) trickled.feed(char);
    expect(trickled.matched).toBe(false);
    expect(trickled.steps).toBeLessThanOrEqual(whole.steps + regex.size * subject.length);
  });

  it('reads POSIX bracket classes and a leading ] as ERE does', () => {
    expect(LinearRegex.compile('^[[:digit:]]{3} [[:alpha:]]+').test('220 ready')).toBe(true);
    expect(LinearRegex.compile('[[:space:]]OK').test('x\tOK')).toBe(true);
    expect(LinearRegex.compile('[]x]').test(']')).toBe(true);
    expect(LinearRegex.compile('[^]x]').test(']')).toBe(false);
  });

  it.each([
    ['(a)\\1', 'backreferences'],
    ['(?<n>a)\\k<n>', 'backreferences'],
    ['HTTP(?=/1)', 'lookaround'],
    ['(?!x)', 'lookaround'],
    ['(?<=a)b', 'lookaround'],
    ['(?<!a)b', 'lookaround'],
    ['a**', 'a quantifier follows another'],
    ['*a', 'nothing to repeat'],
    ['(a', "missing ')'"],
    ['a)', "unmatched ')'"],
    ['[a', "missing ']'"],
    ['[z-a]', 'out of order'],
    ['[[:nothing:]]', 'unknown character class'],
    ['\\q', 'unsupported escape'],
    [`a{${maxRepeat + 1}}`, `above ${maxRepeat}`],
    ['((a{1000}){1000})', 'too large'],
  ])('refuses %s (%s)', (source, says) => {
    expect(() => LinearRegex.compile(source)).toThrow(SyntaxError);
    expect(() => LinearRegex.compile(source)).toThrow(says);
  });
});

describe('compileExpectation matcher', () => {
  it('joins a UTF-8 character split between chunks', () => {
    const matcher = compileExpectation('é!', false).matcher();
    const bytes = Buffer.from('café!');
    expect(matcher.feed(bytes.subarray(0, 4))).toBe(false);
    expect(matcher.feed(bytes.subarray(4))).toBe(true);
  });
});
