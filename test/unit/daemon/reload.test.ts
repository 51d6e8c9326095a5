// A reload's verdict on the file as loaded: applied with its changes, or refused and why.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type Model } from '../../../src/config/index.js';
import { reloadVerdict } from '../../../src/daemon/reload.js';
import { noHosts } from '../config/helpers.js';
import { pairConfig } from './pair-config.js';

describe('reload verdict', () => {
  const load = async (yaml: string) => {
    const { model, warnings } = await parseConfig(yaml, 'tandem.yaml', { hosts: noHosts });
    const [self, peer] = model.nodes as [Model['nodes'][0], Model['nodes'][0]];
    return { model, warnings, self, peer };
  };

  it('applies a file of the same pair, listing what changed', async () => {
    const running = await load(pairConfig);
    const next = await load(pairConfig.replace('serial_no: 1', 'serial_no: 2'));
    expect(await reloadVerdict(running, next)).toEqual({
      ok: true,
      next,
      message: '1 change(s) applied',
      changes: ['serial_no: 1 -> 2'],
      diagnostics: [],
    });
    expect(await reloadVerdict(running, running)).toMatchObject({ ok: true, message: 'nothing changed', changes: [] });
  });

  it('refuses a file with errors, one that cannot be read and one that needs a restart', async () => {
    const running = await load(pairConfig);
    const error = { file: 'tandem.yaml', line: 2, column: 12, key: 'serial_no', message: 'must be a number', severity: 'error' as const };
    expect(await reloadVerdict(running, new ConfigError([error]))).toEqual({
      ok: false,
      code: 'invalid-config',
      message: 'the configuration has 1 error(s); nothing changed',
      diagnostics: [error],
    });
    expect(await reloadVerdict(running, new Error('tandem.yaml: no node of this host'))).toEqual({
      ok: false,
      code: 'invalid-config',
      message: 'tandem.yaml: no node of this host; nothing changed',
      diagnostics: [],
    });
    expect(await reloadVerdict(running, await load(pairConfig.replace('cluster: lab', 'cluster: other')))).toMatchObject({
      ok: false,
      code: 'restart-needed',
      message: 'restart tandem to apply: cluster: lab -> other; nothing changed',
    });
  });
});
