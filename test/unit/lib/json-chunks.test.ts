import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonRows, jsonChunks } from '../../../src/lib/json-chunks.js';

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

  it('writes JsonRows as the array of the rows it reads, each fragment as it comes', async () => {
    const table = Array.from({ length: 250 }, (_, index) => ({ index, name: `service ${index}` }));
    const fragments = async function* () {
      yield '';
      for (let start = 0; start < table.length; start += 100) {
        await Promise.resolve();
        yield JSON.stringify(table.slice(start, start + 100)).slice(1, -1);
      }
    };
    const rows = new JsonRows<(typeof table)[number]>(table.length, fragments);
    const { text: written, chunks } = await text({ ok: true, table: rows, after: 1 });
    expect(written).toBe(JSON.stringify({ ok: true, table, after: 1 }));
    expect(chunks).toBeGreaterThanOrEqual(3);
    await expect(text({ table: rows })).rejects.toThrow('read already');
    const parsed: unknown[] = [];
    for await (const batch of new JsonRows(table.length, fragments).parsed()) parsed.push(...batch);
    expect(parsed).toEqual(table);
    expect((await text(new JsonRows(0, async function* () {}))).text).toBe('[]');
  });
});
