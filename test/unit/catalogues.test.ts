// README.md catalogues every log event and every counter: a new one cannot be added
// without being documented, and a documented one cannot silently disappear. Events are
// read from the source: every `event: …` of an object literal and the event argument of
// the election's and the balancer planner's `this.log(level, event, …)`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createStats } from '../../src/lib/stats.js';
import { MetricsCollector } from '../../src/metrics/index.js';
import { documentedMetrics, firstColumn, section } from '../support/readme.js';

const root = new URL('../../', import.meta.url).pathname;
const eventPattern = /^[a-z]+\.[a-z][a-z-]*$/;

interface Found {
  events: Map<string, string[]>;
  /** Where an event name is computed rather than written out. */
  computed: string[];
}

function sourceEvents(): Found {
  const found: Found = { events: new Map(), computed: [] };
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(join(root, 'src', file), 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (node: ts.Node) => `src/${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const collect = (expression: ts.Expression): void => {
      if (ts.isStringLiteralLike(expression)) {
        const sites = found.events.get(expression.text) ?? [];
        found.events.set(expression.text, [...sites, where(expression)]);
      } else if (ts.isConditionalExpression(expression)) {
        collect(expression.whenTrue);
        collect(expression.whenFalse);
      } else if (ts.isParenthesizedExpression(expression)) {
        collect(expression.expression);
        // `{ event: action.event, … }` logs an event the election or the planner named
      } else if (!(ts.isPropertyAccessExpression(expression) && expression.name.text === 'event')) {
        found.computed.push(`${where(expression)}: ${expression.getText(source)}`);
      }
    };
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node) && node.name.getText(source) === 'event') collect(node.initializer);
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        node.expression.expression.kind === ts.SyntaxKind.ThisKeyword &&
        node.expression.name.text === 'log' &&
        node.arguments[1]
      )
        collect(node.arguments[1]);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe('the log events', () => {
  const { events, computed } = sourceEvents();
  const [catalogue = '', renamed = ''] = section('Log events').split('\n### Renamed events\n');
  const documented = firstColumn(catalogue);

  it('are found in the source, each written out', () => {
    expect(events.size).toBeGreaterThan(50);
    expect(computed).toEqual([]);
  });

  it('are all named area.event', () => {
    expect([...events.keys()].filter((event) => !eventPattern.test(event))).toEqual([]);
  });

  it('are all in the README catalogue, once, and it lists no other', () => {
    const missing = [...events].filter(([event]) => !documented.includes(event)).map(([event, sites]) => `${event} (${sites.join(', ')})`);
    expect(missing).toEqual([]);
    expect(documented.filter((event) => !events.has(event))).toEqual([]);
    expect(documented.filter((event, index) => documented.indexOf(event) !== index)).toEqual([]);
  });

  it('renamed: no old name is logged any more, each new one is', () => {
    const rows = [...renamed.matchAll(/^\| `([^`]+)` \| `([^`]+)`/gm)].map(([, old, now]) => [old!, now!] as const);
    expect(rows.length).toBeGreaterThan(0);
    for (const [old, now] of rows) {
      expect(events.has(old), old).toBe(false);
      expect(events.has(now), now).toBe(true);
    }
  });
});

describe('the counters', () => {
  it('are all in the README catalogue, and it lists no other', () => {
    const names = createStats()
      .registry.snapshot()
      .map((counter) => counter.name);
    const documented = firstColumn(section('Counters'));
    expect(names.filter((name) => !documented.includes(name))).toEqual([]);
    expect(documented.filter((name) => !names.includes(name))).toEqual([]);
  });
});

describe('the metrics', () => {
  it('are all in the README (the counters under Counters, the others under Metrics), and it lists no other', () => {
    const stats = createStats();
    const collector = new MetricsCollector({ counters: stats.registry, view: () => Promise.reject(new Error('not scraped')) });
    const names = collector.registry.getMetricsAsArray().map((metric) => metric.name);
    const documented = documentedMetrics();
    expect(names.filter((name) => !documented.includes(name))).toEqual([]);
    expect(documented.filter((name) => !names.includes(name))).toEqual([]);
  });
});
