// Two `tandem run` daemons balancing with the guest kernel's real IPVS: the directors of
// the cluster lab (test/support/director-pair.ts) with a VIP on the public switch and the NAT
// gateway on the server switch, a client on the public side, two real servers and a
// sorry server behind the gateway. One pair of daemons for every scenario, in order:
// starting the CLI costs 10–20 s in the emulated guest. The daemons are driven through
// their control socket and signals, the way `tandem` commands drive them.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatStatus, sendControlRequest, type DaemonStatus } from '../../src/control/index.js';
import { DirectorPair, type Director, type LogEvent } from '../support/director-pair.js';
import { stopChild, type Host } from '../support/netns.js';
import { until } from '../support/until.js';
import { openEcho, realServer, serveHttp, type EchoSession } from './director.js';

const vip = '192.0.2.100';
const gateway = '198.51.100.254';
const client = '192.0.2.50';
const servers = { rs1: '198.51.100.11', rs2: '198.51.100.12', sorry: '198.51.100.99' };
const health = { interval: 1000, timeout: 1000, reentry: 3000 };
/** The guest runs ~15× slower than the host and shares its CPUs with two daemons. */
const margin = 8000;

const realServers = (port: number, weights = [1, 1]) =>
  `[{ name: rs1, address: ${servers.rs1}, port: ${port}, weight: ${weights[0]} }, { name: rs2, address: ${servers.rs2}, port: ${port}, weight: ${weights[1]} }]`;
const check = (extra = '') =>
  `{ kind: tcp, interval: ${health.interval}ms, timeout: ${health.timeout}ms, reentry: ${health.reentry}ms, failures: 1${extra} }`;

function services(echoWeights = [1, 1]): string {
  return `network: nat
enable_forwarding: true
nat_router: { address: ${gateway}/24, device: eth1 }
sync: { enabled: true, interface: eth1, sync_id: 7, ipvs: { enabled: false } }
ipvs_timeouts: { tcp: 600s }
virtual_services:
  - name: web
    vip: { address: ${vip}/24, device: eth0 }
    port: 80
    scheduler: rr
    sorry_server: { address: ${servers.sorry} }
    health_check: ${check()}
    real_servers: ${realServers(80)}
  - name: web-quiesced
    vip: { address: ${vip}/24, device: eth0 }
    port: 8080
    scheduler: rr
    health_check: ${check(', quiesce_server: true')}
    real_servers: ${realServers(8080)}
  - name: echo
    vip: { address: ${vip}/24, device: eth0 }
    port: 9000
    scheduler: rr
    health_check: { kind: none }
    real_servers: ${realServers(9000, echoWeights)}`;
}

/** What `ipvsadm -S -n` shows on the active director. */
const expectedRules = (echoWeights = [1, 1]) =>
  [
    `-A -t ${vip}:80 -s rr`,
    `-a -t ${vip}:80 -r ${servers.rs1}:80 -m -w 1`,
    `-a -t ${vip}:80 -r ${servers.rs2}:80 -m -w 1`,
    `-A -t ${vip}:8080 -s rr`,
    `-a -t ${vip}:8080 -r ${servers.rs1}:8080 -m -w 1`,
    `-a -t ${vip}:8080 -r ${servers.rs2}:8080 -m -w 1`,
    `-A -t ${vip}:9000 -s rr`,
    `-a -t ${vip}:9000 -r ${servers.rs1}:9000 -m -w ${echoWeights[0]}`,
    `-a -t ${vip}:9000 -r ${servers.rs2}:9000 -m -w ${echoWeights[1]}`,
    '',
  ].join('\n');

void describe('two tandem daemons balancing with real IPVS', { timeout: 900_000 }, () => {
  let pair: DirectorPair;
  let files: string;
  let clientHost: Host;
  const hosts: Record<string, Host> = {};
  const http: Record<string, ChildProcess[]> = {};
  let active: Director;
  let backup: Director;
  let session: EchoSession | undefined;

  const ipvsadm = async (node: Director, args: string[]) => (await pair.lab.exec(node.host, 'ipvsadm', args)).stdout;
  const get = async (port = 80) =>
    (await pair.lab.exec(clientHost, 'busybox', ['timeout', '10', 'busybox', 'wget', '-q', '-O-', `http://${vip}:${port}/`])).stdout.trim();
  const status = async (node: Director): Promise<DaemonStatus> => {
    const response = await sendControlRequest(node.socket, { command: 'status' });
    if (response.command !== 'status' || !response.ok) throw new Error(JSON.stringify(response));
    return response.status;
  };
  const destinations = async (node: Director, port: number) =>
    (await ipvsadm(node, ['-S', '-n'])).split('\n').filter((line) => line.startsWith(`-a -t ${vip}:${port} `));
  const logged = (node: Director, predicate: (event: LogEvent) => boolean, timeoutMs: number) => node.logs.waitFor(predicate, timeoutMs);

  before(async () => {
    const started = Date.now();
    pair = await DirectorPair.create({ keepalive: '250ms', deadtime: '2s', services: services() });
    files = await mkdtemp(join(tmpdir(), 'tandem-daemons-'));
    const { lab } = pair;
    clientHost = await lab.addHost('client');
    await lab.connect(clientHost, 'eth0', 'sw0', [`${client}/24`]);
    for (const [name, address] of Object.entries(servers)) {
      const host = await lab.addHost(name);
      await lab.connect(host, 'eth0', 'sw1', [`${address}/24`]);
      await lab.exec(host, 'ip', ['route', 'add', 'default', 'via', gateway]);
      const started = await realServer(lab, host, files, name === 'sorry' ? { http: [80] } : { http: [80, 8080], echo: 9000 });
      hosts[name] = host;
      http[name] = started.http;
    }
    const labReady = Date.now();
    await pair.startBoth({ timeoutMs: 120_000 });
    [active, backup] = await pair.settled(60_000);
    console.log(`# lab built in ${labReady - started} ms; daemons started and settled in ${Date.now() - labReady} ms`);
  });

  after(async () => {
    await session?.close();
    await (pair as DirectorPair | undefined)?.destroy();
    if (files) await rm(files, { recursive: true, force: true });
  });

  void it('the active programs the table, its timeouts and the master sync daemon; the backup runs the backup daemon', async () => {
    await until('the table on the active', async () => (await ipvsadm(active, ['-S', '-n'])) === expectedRules(), 20_000);
    // the node that started first may have held the role until the other's preemption: its release empties the table
    await until('an empty table on the backup', async () => (await ipvsadm(backup, ['-S', '-n'])) === '', 20_000);
    assert.match(await ipvsadm(active, ['-L', '--timeout']), /^Timeout \(tcp tcpfin udp\): 600 /);
    assert.match(await ipvsadm(active, ['-L', '--daemon']), /^master sync daemon \(mcast=eth1, syncid=7/);
    assert.match(await ipvsadm(backup, ['-L', '--daemon']), /^backup sync daemon \(mcast=eth1, syncid=7/);
  });

  void it('a client reaches both real servers through the VIP, round-robin', async () => {
    const replies = [await get(), await get(), await get(), await get()];
    assert.deepEqual(new Set(replies), new Set(['hello from rs1', 'hello from rs2']));
    assert.notEqual(replies[0], replies[1]);
    assert.equal(replies[0], replies[2]);
  });

  void it('a stopped service is taken out within timeout, shown down in status, and put back after reentry', async () => {
    const [rs2web, rs2quiesced] = http.rs2!;
    const stoppedAt = Date.now();
    await Promise.all([stopChild(rs2web!), stopChild(rs2quiesced!)]);
    // removed from web; kept with weight 0 in web-quiesced (quiesce_server)
    await until('rs2 out of web', async () => (await destinations(active, 80)).length === 1, health.interval + health.timeout + margin);
    await until(
      'rs2 quiesced in web-quiesced',
      async () => (await destinations(active, 8080)).includes(`-a -t ${vip}:8080 -r ${servers.rs2}:8080 -m -w 0`),
      health.interval + health.timeout + margin,
    );
    console.log(`# rs2 taken out ${Date.now() - stoppedAt} ms after its service stopped`);
    assert.deepEqual(new Set([await get(), await get()]), new Set(['hello from rs1']));
    const down = await logged(
      active,
      (e) => e.event === 'health.change' && e.server === 'rs2' && e.to === 'down' && e.service === 'web',
      1000,
    );
    assert.equal(down.reason, 'refused');

    const shown = await status(active);
    const web = shown.ipvs?.services?.find((service) => service.port === 80);
    assert.equal(web?.absent[0]?.health.state, 'down');
    assert.equal(web.absent[0].health.lastFailure?.reason, 'refused');
    const text = formatStatus(shown);
    assert.match(text, new RegExp(`-> ${servers.rs2}:80 +Masq +- +- +- +DOWN for [\\d.]+ m?s: connection refused \\(not in the table\\)`));
    assert.match(text, new RegExp(`-> ${servers.rs2}:8080 +Masq +0 +\\d+ +\\d+ +DOWN for`));
    assert.match(text, new RegExp(`-> ${servers.rs1}:80 +Masq +1 +\\d+ +\\d+ +up for`));

    const restartedAt = Date.now();
    http.rs2 = [serveHttp(pair.lab, hosts.rs2!, files, 80), serveHttp(pair.lab, hosts.rs2!, files, 8080)];
    await until('rs2 back in web', async () => (await destinations(active, 80)).length === 2, health.reentry + health.interval + margin);
    const back = Date.now() - restartedAt;
    console.log(`# rs2 back ${back} ms after its service restarted (reentry ${health.reentry} ms)`);
    assert.ok(back >= health.reentry, `back after ${back} ms, before reentry`);
    await until('rs2 back in web-quiesced', async () => (await ipvsadm(active, ['-S', '-n'])) === expectedRules(), margin);
  });

  void it('with both real servers down the sorry server answers, until one returns', async () => {
    await Promise.all([...http.rs1!, ...http.rs2!].map((child) => stopChild(child)));
    await until(
      'the sorry server in web',
      async () => {
        const rules = await destinations(active, 80);
        return rules.length === 1 && rules[0] === `-a -t ${vip}:80 -r ${servers.sorry}:80 -m -w 1`;
      },
      health.interval + health.timeout + margin,
    );
    assert.equal(await get(), 'hello from sorry');
    http.rs1 = [serveHttp(pair.lab, hosts.rs1!, files, 80), serveHttp(pair.lab, hosts.rs1!, files, 8080)];
    http.rs2 = [serveHttp(pair.lab, hosts.rs2!, files, 80), serveHttp(pair.lab, hosts.rs2!, files, 8080)];
    await until(
      'the real servers back, the sorry server gone',
      async () => (await ipvsadm(active, ['-S', '-n'])) === expectedRules(),
      health.reentry + health.interval + margin,
    );
    assert.match(await get(), /^hello from rs[12]$/);
  });

  void it('a reload (SIGHUP) that changes one weight edits it in place; a long-lived connection stays up', async () => {
    session = openEcho(pair.lab, clientHost, vip);
    const first = await session.exchange('before the reload', 20_000);
    const servedBy = first.split(' ')[0]!;
    for (const node of pair.nodes)
      await writeFile(node.config, (await readFile(node.config, 'utf8')).replace(services(), services([1, 3])));
    active.process!.kill('SIGHUP');
    const reconciled = await logged(active, (e) => e.event === 'ipvs.reconciled' && e.reason === 'reload', 30_000);
    assert.equal(reconciled['edit-destination'], 1);
    for (const kind of ['add-service', 'delete-service', 'add-destination', 'delete-destination', 'edit-service'])
      assert.equal(reconciled[kind], undefined, kind);
    assert.equal(await ipvsadm(active, ['-S', '-n']), expectedRules([1, 3]));
    assert.equal(await session.exchange('after the reload'), `${servedBy} got: after the reload`);
    backup.process!.kill('SIGHUP');
  });

  void it('puts the table back when someone flushes it (ipvsadm -C)', async () => {
    // Repairs come every 10 s (or 20 × a whole-table reconcile, slower in the guest). The
    // flush follows one, so the next finds the whole table gone rather than flushed in the
    // middle of its reading (the unit tests have that case).
    const since = Date.now();
    await logged(active, (e) => e.event === 'ipvs.reconciled' && e.reason === 'repair' && e.time >= since, 30_000);
    const flushedAt = Date.now();
    await ipvsadm(active, ['-C']);
    const repaired = await logged(active, (e) => e.event === 'ipvs.repaired' && e.time >= flushedAt, 30_000);
    assert.equal(repaired.operations, 9);
    assert.equal(await ipvsadm(active, ['-S', '-n']), expectedRules([1, 3]));
  });

  void it('after a failover the new active programs the same table and the client reaches the VIP again', async () => {
    const servedBy = (await session!.exchange('before the failover')).split(' ')[0]!;
    // the backup's sync daemon has the connection
    await until('the connection on the backup', async () => /ESTABLISHED/.test(await ipvsadm(backup, ['-Lnc'])), 15_000);
    const response = await sendControlRequest(active.socket, { command: 'failover' }, 60_000);
    assert.equal(response.ok, true, JSON.stringify(response));
    [active, backup] = [backup, active];
    await until('the table on the new active', async () => (await ipvsadm(active, ['-S', '-n'])) === expectedRules([1, 3]), 20_000);
    await until('the old active released its table', async () => (await ipvsadm(backup, ['-S', '-n'])) === '', 20_000);
    assert.match(await ipvsadm(active, ['-L', '--daemon']), /^master sync daemon \(mcast=eth1, syncid=7/);
    assert.match(await ipvsadm(backup, ['-L', '--daemon']), /^backup sync daemon \(mcast=eth1, syncid=7/);
    assert.match(await get(), /^hello from rs[12]$/);
    // With the kernel's sync daemon the new active knew the connection: it carries on.
    const survived = await session!.exchange('after the failover', 20_000).then(
      (reply) => reply === `${servedBy} got: after the failover`,
      () => false,
    );
    console.log(`# the established connection ${survived ? 'survived' : 'did NOT survive'} the failover`);
    assert.ok(survived);
  });
});
