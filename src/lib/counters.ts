// Named counters in the shape Prometheus gives them: monotonic, one series per set of label
// values, each counter declared once with its help text. Status, logs and the metrics
// exporter all read these, so a figure is counted in one place only. Gauges (what is in
// flight, held, queued) are state and stay with their owners.

/** The value of each label; a number (a path index) counts as its decimal string. */
export type LabelValues<L extends string> = Readonly<Record<L, string | number>>;

/** A counter without labels is counted and read without arguments. */
export type LabelArguments<L extends string> = [L] extends [never] ? [] : [labels: LabelValues<L>];

export interface CounterSpec<L extends string> {
  /** Prometheus style: `tandem_<area>_<what>_total`. */
  name: string;
  help: string;
  labels?: readonly L[];
}

export interface Series<L extends string> {
  labels: Readonly<Record<L, string>>;
  value: number;
}

/** One counter with all its series, as prom-client's `getMetricsAsJSON()` gives a metric. */
export interface CounterSnapshot {
  name: string;
  help: string;
  type: 'counter';
  labelNames: string[];
  values: Array<{ labels: Record<string, string>; value: number }>;
}

const namePattern = /^[a-z_][a-z0-9_]*_total$/;
const labelPattern = /^[a-z_][a-z0-9_]*$/i;

export class Counter<L extends string = never> {
  private readonly series = new Map<string, Series<L>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {
    // Without labels there is one series, there (at 0) from the start.
    if (labelNames.length === 0) this.series.set('', { labels: {} as Record<L, string>, value: 0 });
  }

  inc(...labels: LabelArguments<L>): void {
    this.add(1, ...labels);
  }

  add(amount: number, ...[labels]: LabelArguments<L>): void {
    if (!(amount >= 0) || !Number.isFinite(amount)) throw new RangeError(`${this.name}: a counter only goes up (${amount})`);
    const key = this.keyOf(labels);
    const series = this.series.get(key);
    if (series) series.value += amount;
    else this.series.set(key, { labels: this.labelValues(labels), value: amount });
  }

  /** The count of one set of label values (0 before it was first counted). */
  value(...[labels]: LabelArguments<L>): number {
    return this.series.get(this.keyOf(labels))?.value ?? 0;
  }

  /** The series whose labels have these values (all of them without `match`). */
  matching(match: Partial<LabelValues<L>> = {}): Array<Series<L>> {
    const wanted = Object.entries(match).map(([label, value]) => [label, String(value)] as const);
    return [...this.series.values()]
      .filter((series) => wanted.every(([label, value]) => (series.labels as Record<string, string>)[label] === value))
      .map(({ labels, value }) => ({ labels: { ...labels }, value }));
  }

  /** The sum of the series whose labels have these values. */
  sum(match: Partial<LabelValues<L>> = {}): number {
    return this.matching(match).reduce((total, series) => total + series.value, 0);
  }

  snapshot(): CounterSnapshot {
    return { name: this.name, help: this.help, type: 'counter', labelNames: [...this.labelNames], values: this.matching() };
  }

  private labelValues(labels: LabelValues<L> | undefined): Record<L, string> {
    const values = {} as Record<L, string>;
    for (const label of this.labelNames) values[label] = String(labels?.[label]);
    return values;
  }

  /** Built without intermediate objects: the channels count every datagram. */
  private keyOf(labels: LabelValues<L> | undefined): string {
    let key = '';
    let separator = '';
    for (const label of this.labelNames) {
      key += separator + String(labels?.[label]);
      separator = '\0';
    }
    return key;
  }
}

/** The counters of one process, by name. */
export class CounterRegistry {
  private readonly counters = new Map<string, { snapshot(): CounterSnapshot }>();

  /** Declares a counter; a name must be declared once. */
  counter<const L extends string = never>(spec: CounterSpec<L>): Counter<L> {
    const labels = spec.labels ?? [];
    if (!namePattern.test(spec.name)) throw new Error(`counter name ${spec.name}: lower-case words joined by _, ending in _total`);
    if (this.counters.has(spec.name)) throw new Error(`counter ${spec.name} is declared twice`);
    const invalid = labels.find((label) => !labelPattern.test(label));
    if (invalid !== undefined) throw new Error(`counter ${spec.name}: invalid label name ${invalid}`);
    const counter = new Counter<L>(spec.name, spec.help, labels);
    this.counters.set(spec.name, counter);
    return counter;
  }

  /** Every counter with every series, in the order they were declared. */
  snapshot(): CounterSnapshot[] {
    return [...this.counters.values()].map((counter) => counter.snapshot());
  }
}

/** Some counters by key, as an area of createStats() groups them. */
export type CounterGroup = Readonly<Record<string, Counter<string>>>;

/** Each counter's series, by the key it has in its group. */
export type GroupValues = Record<string, Array<Series<string>>>;

/**
 * A thread that counts on a copy of a group (createStats() of its own) sends what it
 * counted since it last sent; the thread that holds the registry adds it (addToGroup). A
 * copy that stops loses what it had not sent, never what was added before.
 */
export class GroupIncrements {
  private readonly sent = new Map<string, number>();

  constructor(private readonly group: CounterGroup) {}

  /** What was counted since the last take; undefined when nothing was. */
  take(): GroupValues | undefined {
    let increments: GroupValues | undefined;
    for (const [key, counter] of Object.entries(this.group))
      for (const { labels, value } of counter.matching()) {
        const id = `${key}\0${JSON.stringify(labels)}`;
        const more = value - (this.sent.get(id) ?? 0);
        if (more <= 0) continue;
        this.sent.set(id, value);
        ((increments ??= {})[key] ??= []).push({ labels, value: more });
      }
    return increments;
  }
}

export function addToGroup(group: CounterGroup, increments: GroupValues): void {
  for (const [key, series] of Object.entries(increments)) for (const { labels, value } of series) group[key]?.add(value, labels);
}
