// Regular expressions from the configuration (`expect`, `body_regex`), matched against
// what a real server sends. A backtracking engine (JavaScript's RegExp) can take
// exponential time on a pattern such as (a+)+$, and a hostile or broken server chooses
// the text: so patterns compile to a Thompson NFA simulated one character at a time
// (a Pike VM without captures), which costs at most program size × text length and
// can be fed chunk by chunk without scanning the earlier chunks again.
//
// The syntax is POSIX ERE with the usual Perl/JavaScript escapes, what Piranha's nanny
// (regcomp), ldirectord (Perl) and keepalived (PCRE) configs use in practice: literals,
// `.`, bracket expressions with ranges and [:classes:], `\d \w \s \D \W \S`, `\b \B`,
// `^ $` (start and end of the text), groups `( )` and `(?: )`, `|`, and `* + ? {n,m}`
// (lazy forms too: for a yes/no match they are the same). Backreferences and
// lookaround cannot be matched in linear time and are refused with a SyntaxError.

/** Repetition counts above this are refused, as RE2 does: {n} copies its operand n times. */
export const maxRepeat = 1000;
/** Compiled program size limit: matching costs up to this many steps per character. */
export const maxProgramSize = 10_000;

type Ranges = readonly (readonly [number, number])[];

type Node =
  | { type: 'set'; ranges: Ranges; negated: boolean }
  | { type: 'assert'; at: Assertion }
  | { type: 'concat'; items: Node[] }
  | { type: 'alternate'; options: Node[] }
  | { type: 'repeat'; item: Node; min: number; max: number };

type Assertion = 'start' | 'end' | 'word-boundary' | 'not-word-boundary';

type Instruction =
  | { op: 'set'; ranges: Ranges; negated: boolean }
  | { op: 'assert'; at: Assertion }
  | { op: 'split'; to: number; also: number }
  | { op: 'jump'; to: number }
  | { op: 'match' };

const unbounded = Infinity;
const startOfText = -1;
const endOfText = -2;

const digit: Ranges = [[0x30, 0x39]];
const word: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const space: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const lineTerminators: Ranges = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];
const posixClasses: Record<string, Ranges> = {
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  digit,
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  upper: [[0x41, 0x5a]],
  lower: [[0x61, 0x7a]],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
  print: [[0x20, 0x7e]],
  graph: [[0x21, 0x7e]],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  word,
};
const controlEscapes: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b, '0': 0x00 };

function inRanges(ranges: Ranges, code: number): boolean {
  for (const [low, high] of ranges) if (code >= low && code <= high) return true;
  return false;
}

function isWordCharacter(code: number): boolean {
  return code >= 0 && inRanges(word, code);
}

class Parser {
  private at = 0;

  constructor(private readonly source: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.at < this.source.length) this.fail(`unmatched ')' at offset ${this.at}`);
    return node;
  }

  private fail(message: string): never {
    throw new SyntaxError(message);
  }

  private peek(offset = 0): string | undefined {
    return this.source[this.at + offset];
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.at++;
      options.push(this.sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { type: 'alternate', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let next = this.peek(); next !== undefined && next !== '|' && next !== ')'; next = this.peek()) {
      items.push(this.quantified(this.atom()));
    }
    return items.length === 1 ? (items[0] as Node) : { type: 'concat', items };
  }

  private quantified(item: Node): Node {
    const bounds = this.quantifier();
    if (!bounds) return item;
    if (item.type === 'assert') this.fail(`nothing to repeat before offset ${this.at}`);
    if (this.peek() === '?') this.at++; // lazy: the same for a yes/no match
    // a quantifier after a quantifier (a** or a+*) is an error, as in JavaScript
    if (this.quantifier()) this.fail(`a quantifier follows another before offset ${this.at}`);
    return { type: 'repeat', item, ...bounds };
  }

  private quantifier(): { min: number; max: number } | undefined {
    const char = this.peek();
    if (char === '*' || char === '+' || char === '?') {
      this.at++;
      return { min: char === '+' ? 1 : 0, max: char === '?' ? 1 : unbounded };
    }
    if (char !== '{') return undefined;
    const bounds = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.at));
    if (!bounds) return undefined; // a literal brace, as in ERE and JavaScript
    const min = Number(bounds[1]);
    const max = bounds[2] === undefined ? min : bounds[3] === '' ? unbounded : Number(bounds[3]);
    if (min > maxRepeat || (max !== unbounded && max > maxRepeat)) this.fail(`repetition count above ${maxRepeat} in ${bounds[0]}`);
    if (max < min) this.fail(`repetition range out of order in ${bounds[0]}`);
    this.at += bounds[0].length;
    return { min, max };
  }

  private atom(): Node {
    const char = this.source[this.at++] ?? '';
    switch (char) {
      case '(':
        return this.group();
      case '[':
        return this.bracket();
      case '.':
        return { type: 'set', ranges: lineTerminators, negated: true };
      case '^':
        return { type: 'assert', at: 'start' };
      case '$':
        return { type: 'assert', at: 'end' };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
        return this.fail(`nothing to repeat before '${char}' at offset ${this.at - 1}`);
      default:
        return literal(this.codePointFrom(char));
    }
  }

  /** The whole code point starting with `char` (consumes its low surrogate). */
  private codePointFrom(char: string): number {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdbff) {
      const whole = this.source.codePointAt(this.at - 1) ?? code;
      if (whole > 0xffff) this.at++;
      return whole;
    }
    return code;
  }

  private group(): Node {
    if (this.peek() === '?') {
      const rest = this.source.slice(this.at, this.at + 3);
      if (rest.startsWith('?:')) this.at += 2;
      else if (/^\?<[=!]/.test(rest) || /^\?[=!]/.test(rest))
        this.fail('lookaround ((?=, (?!, (?<=, (?<!) is not supported: tandem matches in linear time');
      else if (rest.startsWith('?<')) {
        const name = /^\?<[A-Za-z_][A-Za-z0-9_]*>/.exec(this.source.slice(this.at));
        if (!name) this.fail(`invalid group name at offset ${this.at}`);
        this.at += name[0].length;
      } else this.fail(`unsupported group syntax (${rest}) at offset ${this.at - 1}`);
    }
    const inner = this.alternation();
    if (this.peek() !== ')') this.fail(`missing ')' for the group opened before offset ${this.at}`);
    this.at++;
    // a group may be repeated even when it holds only an assertion, as in JavaScript: (?:^)*
    return { type: 'concat', items: [inner] };
  }

  private escape(): Node {
    const char = this.source[this.at++];
    if (char === undefined) return this.fail('\\ at the end of the pattern');
    const classEscape = this.classEscape(char);
    if (classEscape) return { type: 'set', ...classEscape };
    if (char === 'b') return { type: 'assert', at: 'word-boundary' };
    if (char === 'B') return { type: 'assert', at: 'not-word-boundary' };
    if (/[1-9]/.test(char) || (char === 'k' && this.peek() === '<'))
      this.fail('backreferences (\\1, \\k<name>) are not supported: tandem matches in linear time');
    return literal(this.escapedCharacter(char));
  }

  private classEscape(char: string): { ranges: Ranges; negated: boolean } | undefined {
    const ranges = char.toLowerCase() === 'd' ? digit : char.toLowerCase() === 'w' ? word : char.toLowerCase() === 's' ? space : undefined;
    return ranges && { ranges, negated: char !== char.toLowerCase() };
  }

  /** The code point of an escape that stands for one character (after the backslash). */
  private escapedCharacter(char: string): number {
    const control = controlEscapes[char];
    if (control !== undefined && !(char === '0' && /[0-9]/.test(this.peek() ?? ''))) return control;
    const hex =
      char === 'x'
        ? /^[0-9A-Fa-f]{2}/.exec(this.source.slice(this.at))
        : char === 'u'
          ? /^[0-9A-Fa-f]{4}/.exec(this.source.slice(this.at))
          : null;
    if (hex) {
      this.at += hex[0].length;
      return parseInt(hex[0], 16);
    }
    if (/[A-Za-z0-9]/.test(char)) this.fail(`unsupported escape \\${char} at offset ${this.at - 2}`);
    return this.codePointFrom(char);
  }

  private bracket(): Node {
    const negated = this.peek() === '^';
    if (negated) this.at++;
    const ranges: (readonly [number, number])[] = [];
    let first = true;
    for (;;) {
      const char = this.source[this.at++];
      if (char === undefined) return this.fail("missing ']' for a bracket expression");
      if (char === ']' && !first) break;
      first = false;
      if (char === '[' && this.peek() === ':') {
        const named = /^:([a-z]+):\]/.exec(this.source.slice(this.at));
        const posix = named && posixClasses[named[1] ?? ''];
        if (!named || !posix) this.fail(`unknown character class at offset ${this.at - 1}`);
        this.at += named[0].length;
        ranges.push(...posix);
        continue;
      }
      if (char === '\\') {
        const escaped = this.source[this.at++];
        if (escaped === undefined) return this.fail("missing ']' for a bracket expression");
        const classEscape = this.classEscape(escaped);
        if (classEscape) {
          ranges.push(...(classEscape.negated ? complement(classEscape.ranges) : classEscape.ranges));
          continue;
        }
        this.rangeFrom(escaped === 'b' ? 0x08 : this.escapedCharacter(escaped), ranges);
        continue;
      }
      this.rangeFrom(this.codePointFrom(char), ranges);
    }
    return { type: 'set', ranges, negated };
  }

  /** Adds `low`, or `low-high` when a range follows. */
  private rangeFrom(low: number, ranges: (readonly [number, number])[]): void {
    if (this.peek() !== '-' || this.peek(1) === ']' || this.peek(1) === undefined) {
      ranges.push([low, low]);
      return;
    }
    this.at++;
    const char = this.source[this.at++] ?? '';
    const high = char === '\\' ? this.escapedCharacter(this.source[this.at++] ?? '') : this.codePointFrom(char);
    if (high < low) this.fail(`range out of order in a bracket expression at offset ${this.at - 1}`);
    ranges.push([low, high]);
  }
}

function literal(code: number): Node {
  return { type: 'set', ranges: [[code, code]], negated: false };
}

function complement(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const result: [number, number][] = [];
  let next = 0;
  for (const [low, high] of sorted) {
    if (low > next) result.push([next, low - 1]);
    next = Math.max(next, high + 1);
  }
  if (next <= 0x10ffff) result.push([next, 0x10ffff]);
  return result;
}

class Compiler {
  readonly program: Instruction[] = [];

  private emit(instruction: Instruction): number {
    if (this.program.length >= maxProgramSize)
      throw new SyntaxError(`the pattern is too large (more than ${maxProgramSize} instructions compiled)`);
    this.program.push(instruction);
    return this.program.length - 1;
  }

  compile(node: Node): void {
    switch (node.type) {
      case 'set':
        this.emit({ op: 'set', ranges: node.ranges, negated: node.negated });
        return;
      case 'assert':
        this.emit({ op: 'assert', at: node.at });
        return;
      case 'concat':
        node.items.forEach((item) => this.compile(item));
        return;
      case 'alternate':
        this.alternate(node.options);
        return;
      case 'repeat':
        this.repeat(node.item, node.min, node.max);
        return;
    }
  }

  private alternate(options: Node[]): void {
    const jumps: number[] = [];
    options.forEach((option, index) => {
      if (index === options.length - 1) {
        this.compile(option);
        return;
      }
      const split = this.emit({ op: 'split', to: 0, also: 0 });
      this.compile(option);
      jumps.push(this.emit({ op: 'jump', to: 0 }));
      this.program[split] = { op: 'split', to: split + 1, also: this.program.length };
    });
    for (const jump of jumps) this.program[jump] = { op: 'jump', to: this.program.length };
  }

  private repeat(item: Node, min: number, max: number): void {
    for (let i = 0; i < min; i++) this.compile(item);
    if (max === unbounded) {
      const split = this.emit({ op: 'split', to: 0, also: 0 });
      this.compile(item);
      this.emit({ op: 'jump', to: split });
      this.program[split] = { op: 'split', to: split + 1, also: this.program.length };
      return;
    }
    const splits: number[] = [];
    for (let i = min; i < max; i++) {
      splits.push(this.emit({ op: 'split', to: 0, also: 0 }));
      this.compile(item);
    }
    for (const split of splits) this.program[split] = { op: 'split', to: split + 1, also: this.program.length };
  }
}

/** A match in progress: fed the text in pieces, it says whether a match has been seen. */
export interface RegexMatcher {
  /** Feeds the next piece of text; true once a match ends anywhere in what was fed (`$` taken at the end so far). */
  feed(text: string): boolean;
  readonly matched: boolean;
  /** Instructions executed so far: at most program size × (characters + pieces). */
  readonly steps: number;
}

export class LinearRegex {
  private constructor(
    readonly source: string,
    private readonly program: readonly Instruction[],
  ) {}

  /** Throws a SyntaxError saying what is wrong (or unsupported) in the pattern. */
  static compile(source: string): LinearRegex {
    const compiler = new Compiler();
    compiler.compile(new Parser(source).parse());
    compiler.program.push({ op: 'match' });
    return new LinearRegex(source, compiler.program);
  }

  /** A pattern that matches `text` itself anywhere. */
  static literal(text: string): LinearRegex {
    const compiler = new Compiler();
    compiler.compile({ type: 'concat', items: Array.from(text, (char) => literal(char.codePointAt(0) ?? 0)) });
    compiler.program.push({ op: 'match' });
    return new LinearRegex(text, compiler.program);
  }

  get size(): number {
    return this.program.length;
  }

  test(text: string): boolean {
    return this.matcher().feed(text);
  }

  matcher(): RegexMatcher {
    return new Simulation(this.program);
  }
}

/**
 * The NFA simulation. Between characters it keeps the threads waiting to consume the
 * next one; the closure over jumps, splits and assertions is taken once the next
 * character (or the end of what was fed) is known, since `$` and `\b` depend on it.
 */
class Simulation implements RegexMatcher {
  matched = false;
  steps = 0;
  private waiting: Int32Array;
  private waitingCount = 0;
  private ready: Int32Array;
  private readyCount = 0;
  private readonly visited: Uint32Array;
  private generation = 0;
  private readonly stack: Int32Array;
  private previous = startOfText;

  constructor(private readonly program: readonly Instruction[]) {
    const size = program.length;
    this.waiting = new Int32Array(size);
    this.ready = new Int32Array(size);
    this.visited = new Uint32Array(size);
    // each instruction, visited once, pushes at most two; the waiting threads and the start one more
    this.stack = new Int32Array(size * 3 + 1);
  }

  feed(text: string): boolean {
    if (this.matched) return true;
    for (const char of text) {
      const code = char.codePointAt(0) ?? 0;
      if (this.step(code)) return true;
      this.previous = code;
    }
    // whether a match ends here if the text ended here; the threads stay as they are
    this.closure(endOfText, false);
    return this.matched;
  }

  private step(code: number): boolean {
    this.closure(code, true);
    if (this.matched) return true;
    let count = 0;
    for (let i = 0; i < this.readyCount; i++) {
      const pc = this.ready[i] ?? 0;
      const instruction = this.program[pc] as Extract<Instruction, { op: 'set' }>;
      this.steps++;
      if (inRanges(instruction.ranges, code) !== instruction.negated) this.waiting[count++] = pc + 1;
    }
    this.waitingCount = count;
    return false;
  }

  /** Follows every waiting thread (and a new one from the start) to the instructions that consume `next`. */
  private closure(next: number, collect: boolean): void {
    this.generation++;
    if (this.generation === 0xffff_ffff) {
      this.visited.fill(0);
      this.generation = 1;
    }
    this.readyCount = 0;
    let top = 0;
    // a new thread starts at every position (the match may begin anywhere); pushed last, explored last
    this.stack[top++] = 0;
    for (let i = this.waitingCount - 1; i >= 0; i--) this.stack[top++] = this.waiting[i] ?? 0;
    while (top > 0) {
      const pc = this.stack[--top] ?? 0;
      if (this.visited[pc] === this.generation) continue;
      this.visited[pc] = this.generation;
      this.steps++;
      const instruction = this.program[pc] as Instruction;
      switch (instruction.op) {
        case 'match':
          this.matched = true;
          return;
        case 'set':
          if (collect) this.ready[this.readyCount++] = pc;
          break;
        case 'jump':
          this.stack[top++] = instruction.to;
          break;
        case 'split':
          this.stack[top++] = instruction.also;
          this.stack[top++] = instruction.to;
          break;
        case 'assert':
          if (holds(instruction.at, this.previous, next)) this.stack[top++] = pc + 1;
          break;
      }
    }
  }
}

function holds(assertion: Assertion, previous: number, next: number): boolean {
  switch (assertion) {
    case 'start':
      return previous === startOfText;
    case 'end':
      return next === endOfText;
    case 'word-boundary':
      return isWordCharacter(previous) !== isWordCharacter(next);
    case 'not-word-boundary':
      return isWordCharacter(previous) === isWordCharacter(next);
  }
}
