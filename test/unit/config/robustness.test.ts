// Whatever the input, loading ends in a Model or a ConfigError: never another exception
// (which would surface as a stack trace). And whatever loads converts to tandem.yaml
// and reads back to the same Model.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, toYaml, type ConfigFormat } from '../../../src/config/index.js';
import { readFixture, testOptions } from './helpers.js';

const samples: [string, string, ConfigFormat][] = [
  ['lvs.cf', readFixture('seed-001-lvs.cf'), 'lvs.cf'],
  ['ipvsadm.rules', `${readFixture('seed-004-vs-tun.rules')}${readFixture('seed-000-save.rules')}`, 'ipvsadm'],
  ['lvs.conf', readFixture('seed-003-lvs.conf'), 'lvs.conf'],
  ['tandem.yaml', readFileSync(new URL('../../../deploy/examples/tandem.yaml', import.meta.url), 'utf8'), 'yaml'],
];

async function outcome(text: string, file: string, format?: ConfigFormat): Promise<'model' | 'config-error'> {
  try {
    const { model } = await parseConfig(text, file, { ...testOptions, ...(format !== undefined ? { format } : {}) });
    expect((await parseConfig(await toYaml(model), 'converted.yaml', testOptions)).model).toEqual(model);
    return 'model';
  } catch (error) {
    if (error instanceof ConfigError && error.diagnostics.length > 0) return 'config-error';
    throw error;
  }
}

/** Edits at line and word granularity: what a hurried operator (or a bad merge) does. */
const edit = (text: string) => {
  const lines = text.split('\n');
  return fc
    .array(
      fc.record({
        kind: fc.constantFrom('delete', 'duplicate', 'replace-word', 'insert', 'truncate'),
        line: fc.nat(lines.length - 1),
        junk: fc.oneof(
          fc.string(),
          fc.constantFrom('{', '}', '=', '"', "'", '\\', '$X', '-A', '-a', ':', '- ', '0', '-1', '99999999999', '::', '255.255.255.255'),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((edits) => {
      const result = [...lines];
      for (const { kind, line, junk } of edits) {
        const at = Math.min(line, result.length - 1);
        const current = result[at] ?? '';
        if (kind === 'delete') result.splice(at, 1);
        else if (kind === 'duplicate') result.splice(at, 0, current);
        else if (kind === 'insert') result.splice(at, 0, junk);
        else if (kind === 'truncate') result[at] = current.slice(0, Math.floor(current.length / 2));
        else {
          const words = current.split(' ');
          words[line % Math.max(words.length, 1)] = junk;
          result[at] = words.join(' ');
        }
      }
      return result.join('\n');
    });
};

describe('robustness', () => {
  it.each(samples)('damaged %s files load or fail with diagnostics', async (file, text, format) => {
    await fc.assert(
      fc.asyncProperty(edit(text), async (damaged) => {
        expect(['model', 'config-error']).toContain(await outcome(damaged, file, format));
      }),
      { numRuns: 150 },
    );
  });

  it('arbitrary text in any format loads or fails with diagnostics', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.constantFrom<ConfigFormat | undefined>('lvs.cf', 'ipvsadm', 'lvs.conf', 'yaml', undefined),
        async (text, format) => {
          expect(['model', 'config-error']).toContain(await outcome(text, 'config', format));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any YAML value at any place of a valid document loads or fails with diagnostics', async () => {
    const base = {
      nodes: [{ name: 'a', address: '10.0.0.1' }],
      heartbeat: {},
      virtual_services: [{ name: 'w', vip: { address: '192.0.2.1' }, port: 80, health_check: {}, real_servers: [{ address: '10.1.0.1' }] }],
      sync: {},
      monitor_links: {},
    };
    const paths = [
      [],
      ['nodes'],
      ['nodes', 0],
      ['nodes', 0, 'address'],
      ['heartbeat'],
      ['heartbeat', 'keepalive'],
      ['virtual_services'],
      ['virtual_services', 0],
      ['virtual_services', 0, 'vip'],
      ['virtual_services', 0, 'port'],
      ['virtual_services', 0, 'persistence'],
      ['virtual_services', 0, 'health_check'],
      ['virtual_services', 0, 'real_servers'],
      ['virtual_services', 0, 'real_servers', 0],
      ['virtual_services', 0, 'real_servers', 0, 'weight'],
      ['sync', 'port'],
      ['monitor_links', 'interfaces'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue(), async (path, value) => {
        const document = structuredClone(base) as Record<string | number, unknown>;
        let holder: Record<string | number, unknown> = document;
        path.slice(0, -1).forEach((part) => (holder = holder[part] as Record<string | number, unknown>));
        const last = path[path.length - 1];
        const mutated = last === undefined ? value : ((holder[last] = value), document);
        expect(['model', 'config-error']).toContain(await outcome(stringify(mutated), 'tandem.yaml'));
      }),
      { numRuns: 300 },
    );
  });
});
