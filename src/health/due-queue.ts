// The health checks' timers as one. A Node timer per real server was, at 200,000 servers,
// 200,000 Timeout objects and closures, and a new pair after every check: each lived one
// interval, long enough to be promoted, then left for the single-threaded GC to mark and
// sweep on the event loop. Here items wait in buckets by millisecond behind one timer
// armed for the earliest bucket.

/**
 * Calls `fire(item, at)` once each item's time has come, in the order of their times (and of
 * adding, within one millisecond), from a single timer. Nothing is cancelled here: the
 * caller keeps the `at` that add() returned and ignores a firing whose `at` it no longer
 * expects, as a cleared timer would not have fired.
 */
export class DueQueue<T> {
  private readonly buckets = new Map<number, T[]>();
  /** The buckets' times, a binary min-heap. */
  private readonly times: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(
    private readonly now: () => number,
    private readonly fire: (item: T, at: number) => void,
  ) {}

  /** Schedules `item` in `delay` ms (rounded up to the millisecond); returns its time. */
  add(item: T, delay: number): number {
    const at = Math.ceil(this.now() + delay);
    const bucket = this.buckets.get(at);
    if (bucket) bucket.push(item);
    else {
      this.buckets.set(at, [item]);
      this.push(at);
    }
    if (at < this.armedFor) this.arm();
    return at;
  }

  /** Forgets every item and stops the timer. */
  clear(): void {
    this.buckets.clear();
    this.times.length = 0;
    this.disarm();
  }

  private onTimer = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    // the buckets due now, taken out before any item fires (a firing may add to the queue)
    const due: Array<[number, T[]]> = [];
    while (this.times.length > 0 && (this.times[0] ?? Infinity) <= now) {
      const at = this.pop();
      due.push([at, this.buckets.get(at) ?? []]);
      this.buckets.delete(at);
    }
    for (const [at, items] of due) for (const item of items) this.fire(item, at);
    this.arm();
  };

  private arm(): void {
    const next = this.times[0];
    if (next === undefined) {
      this.disarm();
      return;
    }
    if (next === this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(this.onTimer, Math.max(0, next - this.now()));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private push(at: number): void {
    const { times } = this;
    let index = times.push(at) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = times[parent] ?? -Infinity;
      if (above <= at) break;
      times[index] = above;
      index = parent;
    }
    times[index] = at;
  }

  private pop(): number {
    const { times } = this;
    const first = times[0] ?? Infinity;
    const last = times.pop() ?? Infinity;
    if (times.length === 0) return first;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= times.length) break;
      const right = left + 1;
      const child = right < times.length && (times[right] ?? Infinity) < (times[left] ?? Infinity) ? right : left;
      const below = times[child] ?? Infinity;
      if (last <= below) break;
      times[index] = below;
      index = child;
    }
    times[index] = last;
    return first;
  }
}
