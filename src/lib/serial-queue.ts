const settled = () => undefined;

/** Runs tasks one after another, each starting once the previous one has settled. */
export class SerialQueue {
  /** Settles with the last task, holding none of its result: a claim's reconcile of a big
   *  table returns 300,000 operations, which stayed on the heap until the next one. */
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.then(settled, settled);
    return result;
  }
}
