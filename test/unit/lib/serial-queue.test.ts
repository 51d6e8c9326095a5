// One task after another, and nothing of a task's result kept once it has been handed back.
import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../../src/lib/serial-queue.js';
import { collectGarbage } from '../../support/collect-garbage.js';

describe('SerialQueue', () => {
  it('starts each task once the one before it has settled, failed or not', async () => {
    const queue = new SerialQueue();
    const order: string[] = [];
    let finishFirst = () => {};
    const first = queue.run(
      () =>
        new Promise<void>((resolve) => {
          order.push('first starts');
          finishFirst = () => {
            order.push('first ends');
            resolve();
          };
        }),
    );
    const failing = queue.run(() => {
      order.push('second starts');
      return Promise.reject(new Error('no'));
    });
    const third = queue.run(() => {
      order.push('third starts');
      return Promise.resolve(3);
    });
    await Promise.resolve();
    finishFirst();
    await first;
    await expect(failing).rejects.toThrow('no');
    expect(await third).toBe(3);
    expect(order).toEqual(['first starts', 'first ends', 'second starts', 'third starts']);
  });

  it('starts a task at once when nothing is queued, and after the others when something is', async () => {
    const queue = new SerialQueue();
    const order: string[] = [];
    const first = queue.start(() => {
      order.push('first starts');
      return Promise.resolve();
    });
    order.push('after start');
    const second = queue.start(() => {
      order.push('second starts');
      return Promise.resolve();
    });
    order.push('after the second start');
    await Promise.all([first, second]);
    expect(order).toEqual(['first starts', 'after start', 'after the second start', 'second starts']);
    await new Promise((resolve) => setImmediate(resolve));
    const third = queue.start(() => {
      order.push('third starts');
      return Promise.resolve();
    });
    expect(order.at(-1)).toBe('third starts');
    await third;
  });

  it('turns a task that throws at once into a rejection, and goes on with the next', async () => {
    const queue = new SerialQueue();
    const failing = queue.start(() => {
      throw new Error('no');
    });
    await expect(failing).rejects.toThrow('no');
    expect(await queue.start(() => Promise.resolve(2))).toBe(2);
  });

  it('holds no result of a settled task', async () => {
    const queue = new SerialQueue();
    let result: WeakRef<object> | undefined;
    await queue.run(() => {
      const big = { operations: new Array<number>(1000).fill(0) };
      result = new WeakRef(big);
      return Promise.resolve(big);
    });
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(result?.deref()).toBeUndefined();
  });
});
