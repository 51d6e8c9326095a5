import { fileURLToPath } from 'node:url';
import type { HostResolver } from '../../../src/config/index.js';

export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/config/${name}`, import.meta.url));
}

/** For files that must not need name resolution: any lookup is a test failure. */
export const noHosts: HostResolver = async (name) => {
  throw new Error(`unexpected host name lookup: ${name}`);
};
