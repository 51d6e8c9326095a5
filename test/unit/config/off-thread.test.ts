// The daemon's way of loading (a worker thread) gives what loadConfig gives: the same
// model and warnings, or the same errors.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigOffThread } from '../../../src/config/index.js';
import { fixture } from './helpers.js';

describe('loadConfigOffThread', () => {
  it('loads the same model as loadConfig', async () => {
    const file = fixture('seed-001-lvs.cf');
    const [inWorker, here] = await Promise.all([loadConfigOffThread(file), loadConfig(file)]);
    expect(inWorker).toEqual(here);
  });

  it('throws a ConfigError with the same diagnostics', async () => {
    const file = fixture('seed-000-missing-port.rules');
    const here = await loadConfig(file).catch((error: unknown) => error);
    const inWorker = await loadConfigOffThread(file).catch((error: unknown) => error);
    expect(here).toBeInstanceOf(ConfigError);
    expect(inWorker).toBeInstanceOf(ConfigError);
    expect((inWorker as ConfigError).diagnostics).toEqual((here as ConfigError).diagnostics);
    expect((inWorker as ConfigError).message).toBe((here as ConfigError).message);
  });
});
