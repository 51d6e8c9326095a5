import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ConfigError, servicesTableResolver, type Diagnostic, type HostResolver, type LoadOptions } from '../../../src/config/index.js';

export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/config/${name}`, import.meta.url));
}

export function readFixture(name: string): string {
  return readFileSync(fixture(name), 'utf8');
}

/** Debian's entries for the service names the seeds use (not the machine's file). */
export const services = servicesTableResolver(readFixture('services'));

const exampleHosts = new Map([
  ['ifw01.local', ['198.51.100.11']],
  ['ics01.local', ['192.168.3.2']],
]);

/** Host names of the examples: seed 003's epsg90NN hosts live in TEST-NET-1. (A Map, so
 *  a name such as `valueOf` that fuzzing produces is no object's property.) */
export const hosts: HostResolver = (name) => {
  const epsg = /^epsg90(\d\d)$/.exec(name);
  if (epsg !== null) return Promise.resolve([`192.0.2.${Number(epsg[1])}`]);
  return Promise.resolve(exampleHosts.get(name) ?? []);
};

/** For files that must not need name resolution: any lookup is a test failure. */
export const noHosts: HostResolver = (name) => Promise.reject(new Error(`unexpected host name lookup: ${name}`));

export const testOptions: LoadOptions = { hosts, services };

/** The ConfigError a promise rejects with (fails the test otherwise). */
export async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

/** A diagnostic's place and key, as compared in the tests. */
export function where(d: Diagnostic | undefined): string {
  return d === undefined ? 'none' : `${d.line}:${d.column} ${d.key ?? '-'}`;
}

/** A real configuration from the field, read in place from the shared set beside the repository. */
export function wildConfig(name: string): string {
  return resolve(fileURLToPath(new URL('../../..', import.meta.url)), '../shared/wild-configs', name);
}
