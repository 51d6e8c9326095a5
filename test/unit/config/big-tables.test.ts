// 100,000 services load in every front end, and a mistake deep in such a file is still
// reported at its file:line:column. The tables are generated (test/support/big-config.ts);
// how long a load takes is the bench's business (npm run bench -- big), not asserted here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigOffThread, parseConfig, type ConfigFormat, type Model } from '../../../src/config/index.js';
import { bigConfigName, bigConfigText, bigRealServer, bigVip, type BigTable } from '../../support/big-config.js';
import { configError, testOptions, where } from './helpers.js';

const SERVICES = 100_000;
const LOADING = 600_000;

const cases: Array<[ConfigFormat, BigTable['kind']]> = [
  ['ipvsadm', 'vip'],
  ['ipvsadm', 'fwmark'],
  ['yaml', 'vip'],
  ['lvs.cf', 'vip'],
  ['keepalived', 'vip'],
  ['keepalived', 'fwmark'],
  ['ldirectord', 'vip'],
  ['lvs.conf', 'vip'],
];

function expectWholeTable(model: Model, format: ConfigFormat, table: BigTable): void {
  const services = model.virtualServices;
  expect(services).toHaveLength(table.services);
  const identities = new Set(services.map((s) => `${s.protocol} ${s.vip?.address ?? ''} ${s.port} ${s.fwmark ?? 0}`));
  expect(identities.size).toBe(table.services);
  for (const s of services) expect(s.realServers).toHaveLength(table.servers);
  if (format === 'lvs.conf') {
    // one VIP: TCP ports 1…50,000 then UDP ports 1…50,000
    expect([services[0]?.protocol, services[0]?.port, services.at(-1)?.protocol, services.at(-1)?.port]).toEqual([
      'tcp',
      1,
      'udp',
      SERVICES / 2,
    ]);
    return;
  }
  const last = services.at(-1);
  if (table.kind === 'fwmark') expect(last?.fwmark).toBe(table.services);
  else expect([last?.vip?.address, last?.port]).toEqual([bigVip(table.services - 1), 80]);
  expect(last?.realServers.map((r) => r.address)).toEqual(
    Array.from({ length: table.servers }, (_, r) => bigRealServer(table.services - 1, r)),
  );
}

describe('100,000 services in every front end', () => {
  for (const [format, kind] of cases) {
    it(
      `loads ${format} with ${kind === 'vip' ? 'TCP VIP' : 'firewall-mark'} services`,
      async () => {
        const table: BigTable = { services: SERVICES, servers: 1, kind };
        const { model } = await parseConfig(bigConfigText(format, table), bigConfigName[format], testOptions);
        expectWholeTable(model, format, table);
      },
      LOADING,
    );
  }
});

/** Where `needle` (its last occurrence) is in `text`: line and column, 1-based. */
function placeOf(text: string, needle: string): { line: number; column: number; offset: number } {
  const offset = text.lastIndexOf(needle);
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return { line, column: offset - text.lastIndexOf('\n', offset - 1), offset };
}

describe('an error deep in a big file', () => {
  const formats: ConfigFormat[] = ['ipvsadm', 'yaml', 'lvs.cf', 'keepalived', 'ldirectord'];
  for (const format of formats) {
    it(
      `names file:line:column in ${format}`,
      async () => {
        const table: BigTable = { services: SERVICES, servers: 1, kind: 'vip' };
        const text = bigConfigText(format, table);
        const address = bigRealServer(SERVICES - 1, 0);
        const bad = address.replace(/\.\d+$/, '.300');
        const { line, column, offset } = placeOf(text, address);
        const broken = text.slice(0, offset) + bad + text.slice(offset + address.length);
        const file = `/etc/big/${bigConfigName[format]}`;
        const error = await configError(parseConfig(broken, file, testOptions));
        expect(error.diagnostics).toHaveLength(1);
        const [diagnostic] = error.diagnostics;
        expect(diagnostic?.file).toBe(file);
        expect(diagnostic?.line).toBe(line);
        expect(diagnostic?.column).toBe(column);
        expect(diagnostic?.found).toContain(bad);
      },
      LOADING,
    );
  }

  it(
    'names file:line:column in lvs.conf',
    async () => {
      const text = bigConfigText('lvs.conf', { services: SERVICES, servers: 1, kind: 'vip' });
      const lastPort = String(SERVICES / 2);
      const { line, column, offset } = placeOf(text, `${lastPort}"`);
      const broken = `${text.slice(0, offset)}70000${text.slice(offset + lastPort.length)}`;
      const error = await configError(parseConfig(broken, '/etc/lvs.conf', testOptions));
      expect(error.diagnostics.map(where)).toEqual([`${line}:${column} UPORTS`]);
    },
    LOADING,
  );
});

describe('the daemon way (a worker) with a table of many slices', () => {
  it('loads the same model as loadConfig', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-big-'));
    try {
      const path = join(dir, 'tandem.yaml');
      await writeFile(path, bigConfigText('yaml', { services: 2_000, servers: 2, kind: 'fwmark' }));
      const [inWorker, here] = await Promise.all([loadConfigOffThread(path), loadConfig(path, testOptions)]);
      expect(inWorker.model.virtualServices).toHaveLength(2_000);
      expect(inWorker).toEqual(here);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('gives services with equal check settings, scheduler and forwarding one copy of each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-big-'));
    try {
      const path = join(dir, 'big.rules');
      await writeFile(path, bigConfigText('ipvsadm', { services: 2_000, servers: 2, kind: 'vip' }));
      const services = (await loadConfigOffThread(path)).model.virtualServices;
      expect(new Set(services.map((service) => service.healthCheck)).size).toBe(1);
      const [first, last] = [services[0], services.at(-1)];
      expect(last?.scheduler).toBe(first?.scheduler);
      expect(last?.realServers[1]?.forwarding).toBe(first?.realServers[0]?.forwarding);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
