import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonChunks } from '../../../src/lib/json-chunks.js';

const immediately = () => Promise.resolve();

async function text(value: unknown): Promise<{ text: string; chunks: number }> {
  let text = '';
  let chunks = 0;
  for await (const chunk of jsonChunks(value, immediately)) {
    text += chunk;
    chunks++;
  }
  return { text, chunks };
}

describe('jsonChunks', () => {
  it('writes what JSON.stringify writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        expect((await text(value)).text).toBe(JSON.stringify(value));
      }),
    );
  });

  it('leaves out what JSON.stringify leaves out and asks toJSON', async () => {
    const value = {
      a: undefined,
      b: () => 1,
      c: [undefined, () => 1, Symbol('s'), new Date(0)],
      d: { toJSON: () => 'mine' },
      e: NaN,
      f: { g: undefined },
    };
    expect((await text(value)).text).toBe(JSON.stringify(value));
  });

  it('comes in chunks for a big table', async () => {
    const table = Array.from({ length: 50_000 }, (_, index) => ({ index, name: `service ${index}`, servers: [{ weight: index }] }));
    const { text: written, chunks } = await text({ ok: true, table });
    expect(written).toBe(JSON.stringify({ ok: true, table }));
    expect(chunks).toBeGreaterThan(1);
  });
});
