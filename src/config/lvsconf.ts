// /etc/lvs.conf of the `lvs-director` script (Sys Admin, Sep 2002): shell variable
// assignments — VIP, VIP_IF, LVS_IF, TPORTS, UPORTS, RIPS — with shell quoting, `\`
// line continuations and $VAR references to earlier assignments. The script ran one
// NAT director: each TCP and UDP port becomes a virtual service on the VIP, balanced
// over all RIPS with masquerading.
import { closest, quote, unknownKeyFinding, type DiagnosticSink } from './diagnostics.js';
import type { FrontEndContext, FrontEndResult } from './frontend.js';
import { DocumentBuilder, HostNames } from './legacy.js';
import type { Place } from './normalise.js';

/** A character of a value, with where it was written (for per-word diagnostics). */
interface Char {
  char: string;
  line: number;
  column: number;
}

interface Assignment {
  name: string;
  line: number;
  column: number;
  /** Undefined when the value could not be read (reported already). */
  value: Char[] | undefined;
}

interface Word {
  text: string;
  line: number;
  column: number;
}

const variables = ['VIP', 'VIP_IF', 'LVS_IF', 'TPORTS', 'UPORTS', 'RIPS'];

export async function readLvsConf(text: string, context: FrontEndContext): Promise<FrontEndResult> {
  const { sink } = context;
  const reader = new ShellReader(text, sink);
  const assignments = reader.read();
  const byName = new Map<string, Valued>();
  const broken = new Set<string>();
  for (const assignment of assignments) {
    // A variable the file itself uses ($NET) is a helper; one nothing uses is a typo.
    if (!variables.includes(assignment.name) && !reader.referenced.has(assignment.name)) {
      sink.error(assignment, unknownKeyFinding('variable', assignment.name, variables));
      broken.add(closest(assignment.name, variables) ?? assignment.name);
    } else if (assignment.value === undefined) {
      broken.add(assignment.name);
    } else if (variables.includes(assignment.name)) {
      byName.set(assignment.name, { ...assignment, value: assignment.value });
    }
  }
  const builder = new DocumentBuilder();
  const hosts = new HostNames(context.hosts, sink, builder);
  translate(byName, broken, builder, hosts, context);
  await hosts.settle();
  return { input: builder.document, locator: builder.locator, damaged: builder.damaged };
}

type Valued = Assignment & { value: Char[] };

/** `broken`: variables whose errors were reported (or likely meant by a misspelt name);
 *  what they leave missing is not reported again. */
function translate(
  byName: Map<string, Valued>,
  broken: Set<string>,
  builder: DocumentBuilder,
  hosts: HostNames,
  context: FrontEndContext,
): void {
  const { sink } = context;
  builder.set(['network'], 'nat');
  builder.set(['sync', 'enabled'], false);
  builder.set(['virtual_services'], []);
  const vip = byName.get('VIP');
  const [vipWord, ...extra] = vip !== undefined ? splitWords(vip.value) : [];
  if (vip === undefined || vipWord === undefined) {
    if (broken.has('VIP')) return;
    sink.error(vip ?? { line: 1, column: 1 }, {
      key: 'VIP',
      message: 'no virtual IP address',
      expected: 'VIP=ADDRESS or host name',
      found: 'nothing',
    });
    return;
  }
  if (extra[0] !== undefined)
    sink.error(extra[0], { key: 'VIP', message: 'more than one VIP', expected: 'one address or host name', found: quote(extra[0].text) });
  const lvsIf = byName.get('LVS_IF');
  if (lvsIf !== undefined) {
    const settings = splitWords(lvsIf.value).map((word) => `net.ipv4.conf.${word.text}.send_redirects=0`);
    sink.warning(lvsIf, {
      key: 'LVS_IF',
      message: `tandem leaves ICMP redirects alone; for a one-interface NAT director set ${settings.join(' ')} yourself`,
    });
  }
  const vipIf = byName.get('VIP_IF');
  const device = vipIf !== undefined ? splitWords(vipIf.value)[0] : undefined;
  const realServers = splitWords(byName.get('RIPS')?.value ?? []);
  if (realServers.length === 0 && !broken.has('RIPS'))
    sink.warning(byName.get('RIPS') ?? { line: 1, column: 1 }, { key: 'RIPS', message: 'no real servers' });
  const ports: [Word, 'tcp' | 'udp'][] = [
    ...splitWords(byName.get('TPORTS')?.value ?? []).map((word) => [word, 'tcp'] as [Word, 'tcp']),
    ...splitWords(byName.get('UPORTS')?.value ?? []).map((word) => [word, 'udp'] as [Word, 'udp']),
  ];
  if (ports.length === 0 && !broken.has('TPORTS') && !broken.has('UPORTS')) {
    const at = byName.get('TPORTS') ?? byName.get('UPORTS') ?? { line: 1, column: 1 };
    sink.error(at, {
      key: 'TPORTS',
      message: 'no services',
      expected: 'TPORTS or UPORTS with at least one port or service name',
      found: 'nothing',
    });
  }
  ports.forEach(([portWord, protocol], index) => {
    const path = ['virtual_services', index];
    const key = protocol === 'tcp' ? 'TPORTS' : 'UPORTS';
    const place: Place = { line: portWord.line, column: portWord.column, key };
    builder.mark(path, place);
    builder.set([...path, 'name'], `${portWord.text}/${protocol}`, place);
    builder.set([...path, 'protocol'], protocol);
    builder.set([...path, 'port'], /^[0-9]+$/.test(portWord.text) ? Number(portWord.text) : portWord.text, place);
    // The default check (a TCP connect; for UDP a datagram that must not bounce) tells
    // more than lvs-director's ping.
    if (device !== undefined)
      builder.set([...path, 'vip', 'device'], device.text, { line: device.line, column: device.column, key: 'VIP_IF' });
    const vipPlace: Place = { line: vipWord.line, column: vipWord.column, key: 'VIP' };
    hosts.resolve(vipWord.text, vipPlace, (address) => builder.set([...path, 'vip', 'address'], address, vipPlace), path);
    builder.set([...path, 'real_servers'], []);
    realServers.forEach((server, serverIndex) => {
      const serverPath = [...path, 'real_servers', serverIndex];
      const serverPlace: Place = { line: server.line, column: server.column, key: 'RIPS' };
      builder.mark(serverPath, serverPlace);
      const assign = (address: string): void => {
        builder.set([...serverPath, 'address'], address, serverPlace);
        if (address !== server.text) builder.set([...serverPath, 'name'], server.text, serverPlace);
      };
      hosts.resolve(server.text, serverPlace, assign, serverPath);
    });
  });
}

function splitWords(chars: Char[]): Word[] {
  const words: Word[] = [];
  let current: Word | undefined;
  for (const c of chars) {
    if (/\s/.test(c.char)) {
      current = undefined;
    } else if (current === undefined) {
      current = { text: c.char, line: c.line, column: c.column };
      words.push(current);
    } else {
      current.text += c.char;
    }
  }
  return words;
}

/** The subset of POSIX shell syntax such files use: assignments, comments, quoting,
 *  backslash escapes and continuations, and $NAME / ${NAME} of earlier assignments. */
class ShellReader {
  private position = 0;
  private line = 1;
  private column = 1;
  private readonly values = new Map<string, Char[]>();
  /** Variables the file refers to with $NAME. */
  readonly referenced = new Set<string>();

  constructor(
    private readonly text: string,
    private readonly sink: DiagnosticSink,
  ) {}

  read(): Assignment[] {
    const assignments: Assignment[] = [];
    while (this.position < this.text.length) {
      this.skipBlanks();
      const char = this.peek();
      if (char === '' || char === '\n' || char === '#') {
        this.skipLine();
        continue;
      }
      // Not an assignment: reported, and its line skipped already.
      const assignment = this.assignment();
      if (assignment === undefined) continue;
      assignments.push(assignment);
      if (assignment.value === undefined) {
        this.skipLine();
        continue;
      }
      this.values.set(assignment.name, assignment.value);
      this.endOfStatement();
    }
    return assignments;
  }

  private assignment(): Assignment | undefined {
    const start = { line: this.line, column: this.column };
    let name = this.readWhile(/[A-Za-z0-9_]/);
    if (name === 'export' && /[ \t]/.test(this.peek())) {
      this.skipBlanks();
      Object.assign(start, { line: this.line, column: this.column });
      name = this.readWhile(/[A-Za-z0-9_]/);
    }
    if (name === '' || /^[0-9]/.test(name) || this.peek() !== '=') {
      const found = this.text.slice(
        this.position - name.length,
        this.text.indexOf('\n', this.position) === -1 ? undefined : this.text.indexOf('\n', this.position),
      );
      this.sink.error(start, {
        key: name || undefined,
        message: 'not a variable assignment',
        expected: 'NAME=VALUE',
        found: quote(found.trim() || 'end of line'),
      });
      this.skipLine();
      return undefined;
    }
    this.advance();
    return { name, line: start.line, column: start.column, value: this.value(name) };
  }

  /** One shell word (quotes and escapes removed, variables expanded). */
  private value(name: string): Char[] | undefined {
    const value: Char[] = [];
    for (;;) {
      const char = this.peek();
      if (char === '' || /[ \t\r\n;]/.test(char) || char === '#') return value;
      const at = { line: this.line, column: this.column };
      if (char === '\\') {
        this.advance();
        const escaped = this.peek();
        if (escaped === '\n') this.advance();
        else if (escaped !== '') value.push({ char: this.advance(), ...at });
      } else if (char === "'") {
        this.advance();
        if (!this.quoted("'", at, name, (c) => value.push(c))) return undefined;
      } else if (char === '"') {
        this.advance();
        if (!this.quoted('"', at, name, (c) => value.push(c))) return undefined;
      } else if (char === '$') {
        if (!this.expand(name, value)) return undefined;
      } else if (char === '`' || char === '(' || char === ')' || char === '|' || char === '&' || char === '<' || char === '>') {
        this.sink.error(at, {
          key: name,
          message: 'shell commands are not supported in a configuration',
          expected: 'a plain value',
          found: quote(char),
        });
        return undefined;
      } else {
        value.push({ char: this.advance(), ...at });
      }
    }
  }

  private quoted(quoteChar: string, opening: { line: number; column: number }, name: string, push: (c: Char) => void): boolean {
    for (;;) {
      const char = this.peek();
      if (char === '') {
        this.sink.error(opening, {
          key: name,
          message: 'unterminated quotation',
          expected: `a closing ${quoteChar}`,
          found: 'end of file',
        });
        return false;
      }
      const at = { line: this.line, column: this.column };
      if (char === quoteChar) {
        this.advance();
        return true;
      }
      if (quoteChar === '"' && char === '\\' && /[\n"\\$`]/.test(this.text[this.position + 1] ?? '')) {
        this.advance();
        if (this.peek() === '\n') this.advance();
        else push({ char: this.advance(), ...at });
      } else if (quoteChar === '"' && char === '$') {
        const expanded: Char[] = [];
        if (!this.expand(name, expanded)) return false;
        expanded.forEach(push);
      } else {
        push({ char: this.advance(), ...at });
      }
    }
  }

  private expand(name: string, into: Char[]): boolean {
    const at = { line: this.line, column: this.column };
    this.advance();
    const braced = this.peek() === '{';
    if (braced) this.advance();
    const reference = this.readWhile(/[A-Za-z0-9_]/);
    if (braced && this.peek() === '}') this.advance();
    this.referenced.add(reference);
    const value = this.values.get(reference);
    if (reference === '' || value === undefined) {
      this.sink.error(at, {
        key: name,
        message: `$${reference || '?'} is not set by an earlier line of this file`,
        expected: 'a variable assigned above',
        found: quote(`$${braced ? `{${reference}}` : reference}`),
      });
      return false;
    }
    into.push(...value);
    return true;
  }

  private endOfStatement(): void {
    this.skipBlanks();
    const char = this.peek();
    if (char === ';') {
      this.advance();
      return;
    }
    if (char === '' || char === '\n' || char === '#') {
      this.skipLine();
      return;
    }
    const found = this.text.slice(
      this.position,
      this.text.indexOf('\n', this.position) === -1 ? undefined : this.text.indexOf('\n', this.position),
    );
    this.sink.error(
      { line: this.line, column: this.column },
      {
        message: 'unexpected text after the value (quote values that contain blanks)',
        expected: 'end of line',
        found: quote(found.trim()),
      },
    );
    this.skipLine();
  }

  private peek(): string {
    return this.text[this.position] ?? '';
  }

  private advance(): string {
    const char = this.text[this.position] ?? '';
    this.position++;
    if (char === '\n') {
      this.line++;
      this.column = 1;
    } else {
      this.column++;
    }
    return char;
  }

  private readWhile(pattern: RegExp): string {
    let result = '';
    while (this.peek() !== '' && pattern.test(this.peek())) result += this.advance();
    return result;
  }

  private skipBlanks(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') this.advance();
  }

  private skipLine(): void {
    while (this.peek() !== '' && this.peek() !== '\n') this.advance();
    if (this.peek() === '\n') this.advance();
  }
}
