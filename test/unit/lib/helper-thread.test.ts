// Helper threads ranked as they start, against the real scheduler (root: a raised nice
// value needs CAP_SYS_NICE): a process a raised thread starts begins at nice 0.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startHelperThread, type ThreadRank } from '../../../src/lib/helper-thread.js';

const spawning = new URL('./spawning-worker.ts', import.meta.url);

async function niceOfWhatItStarts(rank: ThreadRank): Promise<number> {
  const worker = startHelperThread(spawning, undefined, { rank, onRankShortfall: (why) => expect.fail(why) });
  const [nice] = (await once(worker, 'message')) as [number];
  await worker.terminate();
  return nice;
}

describe('startHelperThread', () => {
  it('starts the processes of a thread raised above normal at nice 0, not at its nice value', async () => {
    expect(await niceOfWhatItStarts({ nice: -5 })).toBe(0);
  });
});
