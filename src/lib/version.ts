// tandem's version, as package.json has it: shown by `tandem --version`, logged at
// start, sent in every heartbeat and shown in status, so a rolling upgrade shows
// which node runs what. Read from the package root, two levels above this module
// both as src/lib/*.ts and as dist/lib/*.js (the package ships package.json).
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };

if (typeof manifest.version !== 'string') throw new Error('package.json has no version');

export const version: string = manifest.version;
