// What a third host on the sync link can do with one forged kernel sync datagram: with
// the kernel's backup daemon on the link (tandem's `sync.enabled` until now) it inserts
// a connection into the backup's table; with the daemons on lo (src/sync/ipvs) the same
// datagram, sent to every group and port tandem uses, changes nothing, while a commit
// through the table (what the engine does with records from the authenticated channel)
// still writes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { createIpvsTable, describeConnection, type IpvsConnection } from '../../src/sync/ipvs/index.js';
import { ConnFlag } from '../../src/sync/ipvs/connection.js';
import { backupPortOffset } from '../../src/sync/ipvs/kernel-table.js';
import { packMessages } from '../../src/sync/ipvs/sync-message.js';
import { Lab, type Host } from '../support/netns.js';
import { directorNetns, ipvs, resetIpvs } from './director.js';
import { eventually, ipvsKernelSync, kernelConnections, sleep } from './sync-support.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const wireGroup = '224.0.0.81';
const wirePort = 8848;
const director = '10.30.0.2';
const intruderAddress = '10.30.0.66';

const forged = (client: string): IpvsConnection => ({
  family: 4,
  protocol: 6,
  flags: ConnFlag.masquerade,
  state: 1,
  client: { address: client, port: 40_000 },
  virtual: { address: '10.100.0.100', port: 80 },
  destination: { address: '10.30.0.66', port: 80 },
  fwmark: 0,
  timeoutSeconds: 900,
});

void describe('a forged sync datagram from a third host on the sync link', { timeout: 300_000 }, () => {
  let lab: Lab;
  let intruder: Host;

  /** The intruder sends one datagram (python3: no node start in the guest, and busybox nc has no UDP). */
  const send = async (datagram: Buffer, address: string, port: number) => {
    const script = [
      'import socket, sys',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      's.sendto(bytes.fromhex(sys.argv[1]), (sys.argv[2], int(sys.argv[3])))',
    ].join('\n');
    await lab.exec(intruder, '/usr/bin/python3', ['-c', script, datagram.toString('hex'), address, String(port)]);
  };
  const hasClient = async (client: string) => (await kernelConnections()).some((entry) => entry.client.address === client);

  before(async () => {
    await resetIpvs();
    lab = await Lab.create();
    const link = await lab.addSwitch('sync');
    await lab.connect({ name: 'director', netns: directorNetns }, 'sync0', link, [`${director}/24`]);
    intruder = await lab.addHost('intruder');
    await lab.connect(intruder, 'eth0', link, [`${intruderAddress}/24`]);
    await lab.exec(intruder, 'ip', ['route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
  });
  after(async () => {
    await resetIpvs();
    await lab.destroy();
  });

  void it('today (the backup daemon on the sync link): it inserts a connection', async () => {
    const kernel = await ipvs();
    await kernel.startDaemon({ state: 'backup', interface: 'sync0', syncId: 0 });
    const [datagram] = packMessages([forged('10.66.0.1')], 7, 1500);
    await send(datagram!, wireGroup, wirePort);
    await eventually(() => hasClient('10.66.0.1'), 5000).catch(() => undefined);
    const entry = (await kernelConnections()).find((connection) => connection.client.address === '10.66.0.1');
    console.log(`# forged datagram on the link: ${entry ? `inserted ${describeConnection(entry)}` : 'nothing inserted'}`);
    assert.ok(entry, 'the forged connection is in the backup table');
    await kernel.stopDaemon('backup');
  });

  void it('with the daemons on lo: it changes nothing; a commit through the table still writes', async () => {
    await resetIpvs();
    const settings = ipvsKernelSync();
    const table = createIpvsTable({ settings, syncId: 0, logger });
    const seen: IpvsConnection[] = [];
    const stopWatch = table.watch(
      (changes) => seen.push(...changes.map((change) => change.entry)),
      () => undefined,
    );
    try {
      // the backup daemon on lo is started by the first commit
      assert.deepEqual(await table.commit([forged('10.77.0.1')]), { written: 1, failed: 0 });
      await eventually(() => hasClient('10.77.0.1'), 5000);
      const [datagram] = packMessages([forged('10.66.0.2')], 0, 1500);
      const targets: Array<[string, number]> = [
        [settings.group, settings.port + backupPortOffset],
        [settings.group, settings.port],
        [wireGroup, wirePort],
        [director, settings.port + backupPortOffset],
        [director, settings.port],
      ];
      for (const [address, port] of targets) await send(datagram!, address, port);
      await sleep(3000);
      assert.equal(await hasClient('10.66.0.2'), false, 'the forged connection is not in the table');
      assert.deepEqual(seen, [], 'tandem read nothing on its watch socket');
      console.log(`# the same datagram to ${targets.map(([a, p]) => `${a}:${p}`).join(', ')}: nothing inserted, nothing read`);
    } finally {
      stopWatch();
      table.close();
    }
  });
});
