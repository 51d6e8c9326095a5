// Renders tandem.yaml(5): the template with its key reference generated from the
// JSON Schema (schema/tandem.schema.json), so the man page lists every key with the
// description, type and default the validation uses.
//   node --import tsx deploy/man/render.ts TEMPLATE SCHEMA > tandem.yaml.5
import { readFileSync } from 'node:fs';
import { durationPattern } from '../../src/lib/duration.js';

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
}

const marker = '.\\" @KEYS@';

/** Text safe in a roff line: backslashes escaped, other than ASCII as named glyphs, no control character at its start. */
function roff(text: string): string {
  const escaped = text
    .replace(/\\/g, '\\e')
    .replace(/[^\x20-\x7e]/gu, (c) => `\\[u${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) {
    const constants = schema.anyOf.filter((s) => s.const !== undefined).map((s) => String(s.const));
    if (constants.length === schema.anyOf.length) return `one of ${constants.join(', ')}`;
    return schema.anyOf.map(typeOf).join(' or ');
  }
  if (schema.pattern === durationPattern) return 'duration';
  if (schema.format === 'ip-address') return 'address';
  if (schema.format === 'ip-prefix') return 'address[/prefix]';
  if (schema.format) return schema.format;
  if (schema.type === 'integer' && schema.minimum !== undefined && schema.maximum !== undefined)
    return `integer ${schema.minimum}\u2013${schema.maximum}`;
  if (schema.type === 'array') return 'list';
  if (schema.type === 'object') return 'section';
  return schema.type ?? 'value';
}

function defaultOf(schema: JsonSchema, required: boolean): string {
  if (required) return 'required';
  const value = schema.default;
  if (value === undefined || (typeof value === 'object' && value !== null)) return '';
  return `default ${JSON.stringify(value).replace(/^"(.*)"$/, '$1')}`;
}

/** One .TP entry per key, depth first, in the schema's order. */
function keyReference(schema: JsonSchema, path = '', required = false): string[] {
  const entries: string[] = [];
  if (path !== '' && !path.endsWith('[]')) {
    const facts = [typeOf(schema), defaultOf(schema, required)].filter(Boolean).join(', ');
    entries.push('.TP', `.B ${roff(path)}`, roff(`(${facts}) ${schema.description ?? ''}`.trim()));
  }
  const object = schema.type === 'array' ? schema.items : schema;
  const prefix = schema.type === 'array' ? `${path}[].` : path ? `${path}.` : '';
  for (const [key, child] of Object.entries(object?.properties ?? {})) {
    entries.push(...keyReference(child, `${prefix}${key}`, object?.required?.includes(key) ?? false));
  }
  return entries;
}

const [template, schemaFile] = process.argv.slice(2);
if (!template || !schemaFile) throw new Error('usage: render.ts TEMPLATE SCHEMA');
const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as JsonSchema;
const text = readFileSync(template, 'utf8');
if (!text.includes(marker)) throw new Error(`${template}: no ${marker} line`);
process.stdout.write(text.replace(marker, keyReference(schema).join('\n')));
