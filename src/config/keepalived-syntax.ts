// keepalived.conf's syntax: words, quoted strings and `{ }` blocks, `#`/`!` comments, and
// `include` of other files (glob patterns, relative to the including file). keepalived
// reads it line by line; a `{` may end the keyword's line or start the next one, and
// braces split words (`real_server 10.0.0.1 80{` is fine).
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { quote, type DiagnosticSink } from './diagnostics.js';

export interface Token {
  text: string;
  quoted: boolean;
  file: string;
  line: number;
  column: number;
}

export interface Statement {
  keyword: Token;
  args: Token[];
  /** The `{ … }` block that follows, if any. */
  block?: Statement[];
}

const includeKeywords = ['include', 'includer', 'includem', 'includew', 'includeb', 'includea'];

/** More files than this in one configuration is a runaway glob, not a configuration. */
const maxIncludedFiles = 256;

/** keepalived's escapes in quoted strings (as the shell's). */
const escapes: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** The statements of `text` (the file `file`) with its includes read in place. */
export async function readStatements(
  text: string,
  file: string,
  sink: DiagnosticSink,
  readInclude: (path: string) => Promise<string | undefined>,
): Promise<Statement[]> {
  const reader = new IncludeReader(sink, readInclude);
  const lines = await reader.lines(text, file, [await realpath(file).catch(() => file)]);
  return parseBlocks(lines, sink);
}

class IncludeReader {
  private files = 1;

  constructor(
    private readonly sink: DiagnosticSink,
    private readonly readInclude: (path: string) => Promise<string | undefined>,
  ) {}

  /** Token lines of one file, included files spliced in where they are named. */
  async lines(text: string, file: string, chain: string[]): Promise<Token[][]> {
    const result: Token[][] = [];
    for (const line of tokenize(text, file, this.sink)) {
      const [first, pattern, extra] = line;
      if (first === undefined || first.quoted || !includeKeywords.includes(first.text)) {
        result.push(line);
        continue;
      }
      if (pattern === undefined) {
        this.sink.error(first, { key: first.text, message: 'include needs a file name', expected: 'include FILE', found: 'end of line' });
        continue;
      }
      if (extra !== undefined)
        this.sink.error(extra, {
          key: first.text,
          message: 'unexpected text after the file name',
          expected: 'end of line',
          found: quote(extra.text),
        });
      for (const included of await this.expand(first, pattern, file, chain)) result.push(...included);
    }
    return result;
  }

  private async expand(keyword: Token, pattern: Token, file: string, chain: string[]): Promise<Token[][][]> {
    const target = isAbsolute(pattern.text) ? pattern.text : join(dirname(file), pattern.text);
    const paths = (await Promise.all(expandBraces(target).map(glob))).flat();
    if (paths.length === 0) {
      this.sink.warning(pattern, { key: keyword.text, message: `include ${pattern.text} matches no file; nothing included` });
      return [];
    }
    const included: Token[][][] = [];
    for (const path of paths) {
      const real = await realpath(path).catch(() => path);
      if (chain.includes(real)) {
        this.sink.error(pattern, {
          key: keyword.text,
          message: `include cycle: ${path} is already being read`,
          expected: 'includes that do not include their includers',
          found: quote(pattern.text),
        });
        continue;
      }
      if (++this.files > maxIncludedFiles) {
        this.sink.error(pattern, {
          key: keyword.text,
          message: 'too many included files',
          expected: `at most ${maxIncludedFiles} files`,
          found: quote(pattern.text),
        });
        return included;
      }
      const text = await this.readInclude(path);
      if (text !== undefined) included.push(await this.lines(text, path, [...chain, real]));
    }
    return included;
  }
}

/** `{a,b}` alternatives (csh style, nestable), as glob(3) with GLOB_BRACE. */
function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open === -1) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let index = open; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '{') depth++;
    else if (char === '}' && --depth === 0) {
      const bounds = [open, ...commas, index];
      const head = pattern.slice(0, open);
      const tail = pattern.slice(index + 1);
      return bounds.slice(1).flatMap((end, part) => expandBraces(head + pattern.slice((bounds[part] ?? 0) + 1, end) + tail));
    } else if (char === ',' && depth === 1) commas.push(index);
  }
  return [pattern];
}

/** Files matching `pattern` (`*`, `?`, `[…]` per path segment), sorted as glob(3) does. */
async function glob(pattern: string): Promise<string[]> {
  let bases = [pattern.startsWith('/') ? '/' : '.'];
  for (const segment of pattern.split('/').filter((part) => part !== '' && part !== '.')) {
    if (!/[*?[]/.test(segment)) {
      bases = bases.map((base) => join(base, segment));
      continue;
    }
    const matcher = segmentPattern(segment);
    const next: string[] = [];
    for (const base of bases) {
      const entries = await readdir(base).catch(() => []);
      for (const entry of entries.sort()) {
        if (matcher.test(entry) && (!entry.startsWith('.') || segment.startsWith('.'))) next.push(join(base, entry));
      }
    }
    bases = next;
  }
  const files = await Promise.all(bases.map(async (path) => ((await stat(path).catch(() => undefined))?.isFile() ? path : undefined)));
  return files.filter((path) => path !== undefined);
}

function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let index = 0; index < segment.length; index++) {
    const char = segment[index] ?? '';
    const close = char === '[' ? segment.indexOf(']', index + 2) : -1;
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (close !== -1) {
      const body = segment
        .slice(index + 1, close)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\');
      source += `[${body}]`;
      index = close;
    } else source += char.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Each line's words; quotes join (`ab" c"d` is one word `ab cd`) and braces split. */
function tokenize(text: string, file: string, sink: DiagnosticSink): Token[][] {
  return text.split('\n').map((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const lineNumber = index + 1;
    const tokens: Token[] = [];
    const start = line.search(/\S/);
    if (start !== -1 && (line[start] === '@' || line[start] === '$' || line[start] === '~')) {
      const what = line[start] === '@' ? 'conditional configuration (@config-id)' : 'parameter substitution ($NAME, ~SEQ)';
      sink.error(
        { file, line: lineNumber, column: start + 1 },
        {
          message: `keepalived's ${what} is not supported`,
          expected: 'plain keywords (convert the file keepalived -d dumps, or edit these lines out)',
          found: quote(line.trim()),
        },
      );
      return tokens;
    }
    let word: Token | undefined;
    const endWord = (): void => {
      if (word !== undefined) tokens.push(word);
      word = undefined;
    };
    for (let position = 0; position < line.length; position++) {
      const char = line[position] ?? '';
      const column = position + 1;
      if (char === ' ' || char === '\t') endWord();
      else if (char === '#' || char === '!') break;
      else if (char === '{' || char === '}') {
        endWord();
        tokens.push({ text: char, quoted: false, file, line: lineNumber, column });
      } else if (char === '"' || char === "'") {
        word ??= { text: '', quoted: true, file, line: lineNumber, column };
        word.quoted = true;
        let end = position + 1;
        for (; end < line.length && line[end] !== char; end++) {
          const next = line[end + 1] ?? '';
          if (line[end] === '\\' && next !== '') {
            word.text += escapes[next] ?? next;
            end++;
          } else word.text += line[end] ?? '';
        }
        if (end >= line.length) {
          sink.error(
            { file, line: lineNumber, column },
            {
              key: tokens[0]?.text,
              message: 'unmatched quote',
              expected: `a closing ${char} on the same line`,
              found: quote(line.slice(position)),
            },
          );
          return tokens;
        }
        position = end;
      } else {
        word ??= { text: '', quoted: false, file, line: lineNumber, column };
        word.text += char;
      }
    }
    endWord();
    return tokens;
  });
}

const isBrace = (token: Token, brace: '{' | '}'): boolean => !token.quoted && token.text === brace;

function parseBlocks(lines: Token[][], sink: DiagnosticSink): Statement[] {
  const root: Statement[] = [];
  const stack: { list: Statement[]; owner?: Statement }[] = [{ list: root }];
  const top = (): { list: Statement[]; owner?: Statement } => stack[stack.length - 1] ?? { list: root };
  for (const line of lines) {
    let words: Token[] = [];
    const flush = (): Statement | undefined => {
      const [keyword, ...args] = words;
      words = [];
      if (keyword === undefined) return undefined;
      const statement: Statement = { keyword, args };
      top().list.push(statement);
      return statement;
    };
    for (const token of line) {
      if (isBrace(token, '{')) {
        // A '{' alone on its line opens the block of the statement just above.
        const previous = top().list[top().list.length - 1];
        const owner = flush() ?? (previous?.block === undefined && line[0] === token ? previous : undefined);
        if (owner === undefined) {
          sink.error(token, { key: '{', message: "'{' without a keyword before it", expected: 'KEYWORD … {', found: "'{'" });
          stack.push({ list: [] });
          continue;
        }
        owner.block = [];
        stack.push({ list: owner.block, owner });
      } else if (isBrace(token, '}')) {
        flush();
        if (stack.length === 1) sink.error(token, { key: '}', message: "'}' without an open block", expected: 'a keyword', found: "'}'" });
        else stack.pop();
      } else {
        words.push(token);
      }
    }
    flush();
  }
  for (const unclosed of stack.slice(1)) {
    const opener = unclosed.owner?.keyword;
    if (opener === undefined) continue;
    const label = [opener.text, ...(unclosed.owner?.args ?? []).map((arg) => arg.text)].join(' ');
    sink.error(opener, { key: opener.text, message: `block '${label}' is never closed`, expected: "'}'", found: 'end of file' });
  }
  return root;
}
