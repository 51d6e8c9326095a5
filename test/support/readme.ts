// The README's catalogues (log events, counters, metrics), for the tests that hold the code to them.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

export const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README's section `## <title>`, up to the next section of that level. */
export function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README.md has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The names in the first column of a table: `| \`name\` | …`. */
export const firstColumn = (text: string) => [...text.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);

/** Every metric the README documents: the counters, and the others under Metrics. */
export const documentedMetrics = () => [...firstColumn(section('Counters')), ...firstColumn(section('Metrics'))];
