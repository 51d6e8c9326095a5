// README's tandem.yaml reference names every key of the schema that validates the file,
// and no key the schema does not have: a new key cannot ship undocumented.
import { describe, expect, it } from 'vitest';
import {} from '../../src/config/index.js';
import { jsonSchema } from '../../src/config/schema.js';
import { readme } from '../support/readme.js';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
}

/** Every key path (`virtual_services[].vip.address`), with whether it is a section of other keys. */
function keyPaths(node: SchemaNode, prefix: string, into: Map<string, boolean>): void {
  for (const alternative of node.anyOf ?? node.oneOf ?? []) keyPaths(alternative, prefix, into);
  if (node.items) keyPaths(node.items, `${prefix}[]`, into);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const hasKeys = (n: SchemaNode): boolean =>
      n.properties !== undefined || (n.items !== undefined && hasKeys(n.items)) || (n.anyOf ?? n.oneOf ?? []).some(hasKeys);
    into.set(path, (into.get(path) ?? false) || hasKeys(child));
    keyPaths(child, path, into);
  }
}

describe("README's tandem.yaml reference", () => {
  it('has a row for every key of the schema, and only for those', () => {
    const start = readme.indexOf('\n### tandem.yaml\n');
    expect(start, 'README.md has a "### tandem.yaml" section').toBeGreaterThan(-1);
    const reference = readme.slice(start, readme.indexOf('\n### ', start + 1));
    const documented = [...reference.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);
    const keys = new Map<string, boolean>();
    keyPaths(JSON.parse(jsonSchema()) as SchemaNode, '', keys);
    // a section (`heartbeat`, `virtual_services[].vip`) is documented by its keys' rows
    const undocumented = [...keys].filter(([key, isSection]) => !documented.includes(key) && !isSection).map(([key]) => key);
    expect(undocumented).toEqual([]);
    expect(documented.filter((key) => !keys.has(key))).toEqual([]);
  });
});
