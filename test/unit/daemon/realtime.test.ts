// chrt --all-tasks walks the process's threads; one that ends meanwhile must not cost the
// daemon its real-time scheduling.
import { describe, expect, it } from 'vitest';
import { chrtAllTasks } from '../../../src/daemon/realtime.js';

/** A chrt that fails with each of `failures` in turn, then succeeds; records its calls. */
function flakyChrt(failures: string[]) {
  const calls: string[][] = [];
  const run = (args: string[]) => {
    calls.push(args);
    const failure = failures.shift();
    return failure === undefined ? Promise.resolve() : Promise.reject(new Error(failure));
  };
  return { run, calls };
}

const vanished = "chrt: failed to set tid 17947's policy: No such process";

describe('chrtAllTasks', () => {
  it('asks again when a thread ended while chrt walked them', async () => {
    const { run, calls } = flakyChrt([vanished, vanished]);
    await chrtAllTasks(['--rr', '--pid', '9'], run);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual(['--all-tasks', '--rr', '--pid', '9', String(process.pid)]);
  });

  it('gives up after three attempts, and at once on any other refusal', async () => {
    await expect(chrtAllTasks(['--rr', '--pid', '9'], flakyChrt([vanished, vanished, vanished]).run)).rejects.toThrow(/No such process/);
    const refused = flakyChrt(["chrt: failed to set pid 1's policy: Operation not permitted"]);
    await expect(chrtAllTasks(['--rr', '--pid', '9'], refused.run)).rejects.toThrow(/not permitted/);
    expect(refused.calls).toHaveLength(1);
  });
});
