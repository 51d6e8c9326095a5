// Which carries IPVS connection sync: tandem's channel or the kernel's daemons on the
// sync link, never both (the kernel runs one master and one backup daemon per namespace).
import { describe, expect, it } from 'vitest';
import { ipvsSyncOverChannel, parseConfig, wireSyncDaemons } from '../../../src/config/index.js';
import { desiredSyncDaemons } from '../../../src/ipvs/index.js';
import { noHosts, services } from './helpers.js';

const syncOf = async (text: string) => (await parseConfig(text, 'tandem.yaml', { hosts: noHosts, services })).model.sync;

describe('the IPVS sync carrier', () => {
  it("is tandem's channel by default, and then no daemon runs on the sync link", async () => {
    const sync = await syncOf('sync: {interface: eth1, sync_id: 7}\n');
    expect([ipvsSyncOverChannel(sync), wireSyncDaemons(sync)]).toEqual([true, false]);
    expect(desiredSyncDaemons(sync, 'master', 'eth1')).toEqual([]);
  });

  it('is the kernel daemons on the sync link with sync.ipvs.enabled off', async () => {
    const sync = await syncOf('sync: {interface: eth1, sync_id: 7, ipvs: {enabled: false}}\n');
    expect([ipvsSyncOverChannel(sync), wireSyncDaemons(sync)]).toEqual([false, true]);
    expect(desiredSyncDaemons(sync, 'backup', 'eth1')).toMatchObject([{ state: 'backup', interface: 'eth1', syncId: 7 }]);
  });

  it('is neither with sync.enabled off', async () => {
    const sync = await syncOf('sync: {enabled: false, ipvs: {enabled: true}}\n');
    expect([ipvsSyncOverChannel(sync), wireSyncDaemons(sync)]).toEqual([false, false]);
  });
});
