/** Runs tasks one after another, each starting once the previous one has settled. */
export class SerialQueue {
  /** Settles with the last task, holding none of its result: a claim's reconcile of a big
   *  table returns 300,000 operations, which stayed on the heap until the next one. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Tasks queued or running. */
  private unsettled = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    return this.track(this.tail.then(task, task));
  }

  /**
   * As run, but with nothing queued or running the task starts at once, synchronously up
   * to its first await, rather than on the next microtask: a takeover's first frame need
   * not wait for what its caller does after queueing it.
   */
  start<T>(task: () => Promise<T>): Promise<T> {
    if (this.unsettled > 0) return this.run(task);
    let started: Promise<T>;
    try {
      started = task();
    } catch (error) {
      started = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.track(started);
  }

  private track<T>(result: Promise<T>): Promise<T> {
    this.unsettled += 1;
    const settled = () => {
      this.unsettled -= 1;
    };
    this.tail = result.then(settled, settled);
    return result;
  }
}
