// A table of 10,000 services × 4 real servers (half TCP VIP services, half fwmark
// services), read by tandem from an ipvsadm rules file and programmed over generic
// netlink, is the table `ipvsadm -R` builds from the same file: `ipvsadm -S -n` line for
// line; tandem reads it back as ipvsadm does, and a second reconcile changes nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type HostResolver } from '../../src/config/index.js';
import { desiredTableInChunks, formatSave, IpvsReconciler, readTable } from '../../src/ipvs/index.js';
import { createLogger } from '../../src/log.js';
import { bigTable } from '../support/big-table.js';
import { ipvs, ipvsadm, resetIpvs } from './director.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const noHosts: HostResolver = () => Promise.resolve([]);

void describe('a 10,000-service table', () => {
  const { rules } = bigTable(10_000, 4);
  let files = '';
  let reference = '';

  before(async () => {
    files = await mkdtemp(join(tmpdir(), 'tandem-big-table-'));
    await resetIpvs();
    await ipvsadm(['-R'], rules);
    reference = await ipvsadm(['-S', '-n']);
    await (await ipvs()).flush();
  });
  after(async () => {
    await resetIpvs();
    await rm(files, { recursive: true, force: true });
  });

  void it("programmed by tandem from the rules file is ipvsadm -R's table, line for line", async () => {
    const file = join(files, 'big.rules');
    await writeFile(file, rules);
    const { model } = await loadConfig(file, { hosts: noHosts });
    const reconciler = new IpvsReconciler(await ipvs(), logger);
    const applied = await reconciler.reconcile(await desiredTableInChunks(model, { role: 'active' }), 'test');
    assert.deepEqual(applied.failures, []);
    assert.equal(applied.operationCount, 50_000);
    const programmed = await ipvsadm(['-S', '-n']);
    assert.equal(programmed.split('\n').length, 50_001);
    assert.equal(programmed, reference);

    assert.equal(formatSave(await readTable(await ipvs())), reference, "tandem's read of the table is ipvsadm -S -n's");
    const again = await reconciler.reconcile(await desiredTableInChunks(model, { role: 'active' }), 'test: again');
    assert.equal(again.operationCount, 0);
    assert.equal(again.servicesRead, 10_000);
  });
});
