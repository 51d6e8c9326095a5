import { describe, expect, it } from 'vitest';
import { compileExpectation } from '../../../src/lib/expectation.js';
import { printable } from '../../../src/lib/printable.js';

describe('compileExpectation', () => {
  it('matches a substring anywhere in the answer, taken literally', () => {
    const expectation = compileExpectation('HTTP/1.', false);
    expect(expectation.matches('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(expectation.matches('HTTP/2 200')).toBe(false);
    expect(expectation.description).toBe('"HTTP/1."');
  });

  it('matches a regular expression with use_regex', () => {
    const expectation = compileExpectation('^220 .*ready', true);
    expect(expectation.matches('220 mail ready\r\n')).toBe(true);
    expect(expectation.matches('530 not ready')).toBe(false);
    expect(expectation.description).toBe('/^220 .*ready/');
  });

  it('names the pattern when it does not compile', () => {
    expect(() => compileExpectation('([a-z]', true)).toThrow(SyntaxError);
    expect(() => compileExpectation('([a-z]', true)).toThrow(/invalid regular expression \/\(\[a-z\]\//);
    expect(() => compileExpectation('([a-z]', false)).not.toThrow();
  });

  it('describes a pattern with control characters printably', () => {
    expect(compileExpectation('OK\r\n', false).description).toBe('"OK\\r\\n"');
  });
});

describe('printable', () => {
  it('escapes control characters and cuts long text, saying how much is left out', () => {
    expect(printable('a\tb\u0000')).toBe('a\\tb\\u0000');
    expect(printable('x'.repeat(10), 4)).toBe('xxxx… (6 more characters)');
    expect(printable('x'.repeat(160))).toBe('x'.repeat(160));
    expect(printable('x'.repeat(161))).toBe(`${'x'.repeat(160)}… (1 more characters)`);
  });
});
