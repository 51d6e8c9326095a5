// Diagnostics: what every configuration front end reports. An error names the file, the
// place (1-based line and column; line 0 means the file as a whole, e.g. it cannot be
// read), the key, what was expected and what was found. Front ends never stop at the
// first error: they collect into a DiagnosticSink and the loader throws one ConfigError
// carrying all of them.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  file: string;
  line: number;
  column: number;
  key?: string;
  expected?: string;
  found?: string;
  message: string;
}

export interface SourceLocation {
  line: number;
  column: number;
  /** Another file than the sink's (one the configuration includes). */
  file?: string;
}

/** What a diagnostic says, apart from where and how severe. */
export interface Finding {
  key?: string;
  expected?: string;
  found?: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const place = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const key = d.key !== undefined ? `${d.key}: ` : '';
  const details = [
    d.expected !== undefined ? `expected ${d.expected}` : undefined,
    d.found !== undefined ? `found ${d.found}` : undefined,
  ].filter((part) => part !== undefined);
  const suffix = details.length > 0 ? ` (${details.join(', ')})` : '';
  return `${place}: ${d.severity}: ${key}${d.message}${suffix}`;
}

export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  readonly warnings: Diagnostic[];

  constructor(diagnostics: Diagnostic[], warnings: Diagnostic[] = []) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
    this.warnings = warnings;
  }
}

/** Beyond this many errors the rest of a file is mostly noise (and a 10 MB file of
 *  garbage must not become millions of objects). */
export const maxErrorsPerFile = 100;

/** Collects the diagnostics of one file. */
export class DiagnosticSink {
  private readonly errorList: Diagnostic[] = [];
  private readonly warningList: Diagnostic[] = [];
  /** Errors beyond maxErrorsPerFile: counted, not kept. */
  private dropped = 0;

  constructor(readonly file: string) {}

  error(at: SourceLocation, finding: Finding): void {
    if (this.errorList.length >= maxErrorsPerFile) {
      this.dropped++;
      return;
    }
    this.errorList.push(this.make('error', at, finding));
  }

  warning(at: SourceLocation, finding: Finding): void {
    if (this.warningList.length >= maxErrorsPerFile) return;
    this.warningList.push(this.make('warning', at, finding));
  }

  get hasErrors(): boolean {
    return this.errorList.length > 0;
  }

  /** Errors in file order (front ends and the semantic checks report in passes). */
  get errors(): Diagnostic[] {
    const sorted = sortByPlace(this.errorList, this.file);
    if (this.dropped === 0) return sorted;
    const last = sorted[sorted.length - 1];
    return [
      ...sorted,
      this.make(
        'error',
        { line: last?.line ?? 1, column: last?.column ?? 1 },
        { message: `too many errors; stopped reporting after ${maxErrorsPerFile} (… and ${this.dropped} more)` },
      ),
    ];
  }

  get warnings(): Diagnostic[] {
    return sortByPlace(this.warningList, this.file);
  }

  /** Throws the collected errors, if any. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new ConfigError(this.errors, this.warnings);
  }

  private make(severity: Severity, at: SourceLocation, finding: Finding): Diagnostic {
    const diagnostic: Diagnostic = { severity, file: at.file ?? this.file, line: at.line, column: at.column, message: finding.message };
    if (finding.key !== undefined) diagnostic.key = finding.key;
    if (finding.expected !== undefined) diagnostic.expected = finding.expected;
    if (finding.found !== undefined) diagnostic.found = finding.found;
    return diagnostic;
  }
}

/** The main file's diagnostics first, then included files' by name. */
function sortByPlace(list: Diagnostic[], mainFile: string): Diagnostic[] {
  const byFile = (a: Diagnostic, b: Diagnostic): number =>
    Number(a.file !== mainFile) - Number(b.file !== mainFile) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
  return [...list].sort((a, b) => byFile(a, b) || a.line - b.line || a.column - b.column);
}

/** How a found value is shown: quoted, control characters escaped, long values cut. */
export function quote(text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(shown);
}

/** Closest candidate by edit distance (ties: the longer common prefix), for "did you
 *  mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = [Math.max(2, Math.floor(word.length / 3)) + 1, 0];
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const distance = editDistance(lower, other);
    let prefix = 0;
    while (prefix < lower.length && lower[prefix] === other[prefix]) prefix++;
    const [bestDistance = 0, bestPrefix = 0] = bestScore;
    if (distance < bestDistance || (distance === bestDistance && prefix > bestPrefix)) {
      best = candidate;
      bestScore = [distance, prefix];
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Math.abs(a.length - b.length);
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Longer lists of what is known are not repeated in every message (the README has them). */
const maxListedKeys = 12;

/** "unknown keyword" message with a hint when a known one is close. */
export function unknownKeyFinding(kind: string, key: string, known: readonly string[]): Finding {
  const suggestion = closest(key, known);
  return {
    key,
    message: suggestion !== undefined ? `unknown ${kind} (did you mean '${suggestion}'?)` : `unknown ${kind}`,
    expected: known.length <= maxListedKeys ? `one of ${known.join(', ')}` : `one of the ${known.length} listed in the README`,
    found: quote(key),
  };
}
