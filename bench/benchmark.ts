export interface Benchmark {
  name: string;
  description: string;
  /** Long runs (chaos) run only when named, not with every benchmark. */
  onlyWhenNamed?: boolean;
  /** Prints its figures to stdout. `args`: the command line's options (`--count 1000`). */
  run(args: string[]): Promise<void>;
}

/** min / median / p95 / max of a sample, for the distributions the issues ask for. */
export function summarize(samples: number[]): { n: number; min: number; median: number; p95: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, min: sorted[0] ?? NaN, median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] ?? NaN };
}

export function formatSummary(label: string, samples: number[], unit = 'ms'): string {
  const s = summarize(samples);
  const f = (v: number) => v.toFixed(1);
  return `${label}: n=${s.n} min=${f(s.min)}${unit} median=${f(s.median)}${unit} p95=${f(s.p95)}${unit} max=${f(s.max)}${unit}`;
}
