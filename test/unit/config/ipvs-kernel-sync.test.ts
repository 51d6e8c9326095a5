// sync.ipvs.kernel: the loopback sync daemons and the kernel's knobs, in the model only
// when they differ from the defaults, checked against what the kernel accepts, written back.
import { describe, expect, it } from 'vitest';
import { ipvsKernelSyncDefaults, parseConfig, toYaml } from '../../../src/config/index.js';
import { defaultIpvsKernelSync } from '../../ipvs/sync-support.js';
import { configError, noHosts, services } from './helpers.js';

const yaml = (text: string) => parseConfig(text, 'tandem.yaml', { hosts: noHosts, services });

describe('sync.ipvs.kernel', () => {
  it('defaults to the values the README gives, and then stays out of the model', async () => {
    expect(ipvsKernelSyncDefaults()).toEqual(defaultIpvsKernelSync);
    expect((await yaml('sync: {ipvs: {kernel: {}}}\n')).model.sync.ipvsKernel).toBeUndefined();
  });

  it('takes every knob and writes it back', async () => {
    const text =
      'sync: {ipvs: {kernel: {group: 239.1.2.3, port: 9000, sync_threshold: 2, sync_period: 40, sync_refresh_period: 30s, ' +
      'sync_retries: 1, sync_persist_mode: true, sync_ports: 4, sync_qlen_max: 1000, sync_sock_size: 1048576}}}\n';
    const { model } = await yaml(text);
    expect(model.sync.ipvsKernel).toEqual({
      group: '239.1.2.3',
      port: 9000,
      threshold: 2,
      period: 40,
      refreshPeriod: 30,
      retries: 1,
      persistMode: true,
      ports: 4,
      queueLimit: 1000,
      socketSize: 1048576,
    });
    expect((await yaml(await toYaml(model))).model).toEqual(model);
  });

  it('refuses what the kernel would, naming the key', async () => {
    const error = await configError(
      yaml('sync: {ipvs: {kernel: {group: 10.0.0.1, sync_ports: 3, sync_threshold: 50, sync_period: 50, sync_refresh_period: 1500ms}}}\n'),
    );
    expect(error.diagnostics.map((d) => `${d.key}: ${d.message}`).sort()).toEqual([
      'sync.ipvs.kernel.group: not an IPv4 multicast group',
      'sync.ipvs.kernel.sync_ports: not a power of two',
      'sync.ipvs.kernel.sync_refresh_period: not a usable number of seconds',
      'sync.ipvs.kernel.sync_threshold: not below sync_period',
    ]);
  });
});
