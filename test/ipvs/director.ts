// The VM tier's world: the test process runs inside the network namespace of a director
// (test/ipvs/run creates it), so tandem's netlink socket programs that namespace's IPVS
// table; clients and real servers live in namespaces of a Lab (test/support/netns.ts)
// wired to it. Every process start costs 0.1–0.3 s in the guest (node ~1 s): tests
// start few of them and use busybox servers.
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Lab, requireRoot, run, stopChild, type Host } from '../support/netns.js';
import { IpvsNetlink } from '../../src/ipvs/index.js';

export const directorNetns = process.env.TANDEM_DIRECTOR_NETNS ?? 'tandem-director';

/** The suite must run in the VM, inside the director's namespace. */
export function requireIpvsVm(): void {
  requireRoot();
  if (process.env.TANDEM_IPVS_VM !== '1') {
    throw new Error('the IPVS tier runs inside the VM: use `npm run test:ipvs` (test/ipvs/run)');
  }
}

let driver: Promise<IpvsNetlink> | undefined;
/** One netlink socket for the whole suite (the director's IPVS). */
export function ipvs(): Promise<IpvsNetlink> {
  driver ??= IpvsNetlink.open();
  return driver;
}

export async function ipvsadm(args: string[], input?: string): Promise<string> {
  return (await run('ipvsadm', args, input)).stdout;
}

export const defaultTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };

/** An empty table, no sync daemons and the kernel's default timeouts, as every test starts. */
export async function resetIpvs(): Promise<void> {
  const kernel = await ipvs();
  await kernel.flush();
  for (const daemon of await kernel.listDaemons()) await kernel.stopDaemon(daemon.state);
  await kernel.setTimeouts(defaultTimeouts);
}

export const addresses = {
  vip: '10.100.0.100',
  vip6: '2001:db8:100::100',
  director: '10.100.0.1',
  director6: '2001:db8:100::1',
  gateway: '10.200.0.254',
  gateway6: '2001:db8:200::254',
  client: '10.100.0.10',
  client6: '2001:db8:100::10',
  realServers: ['10.200.0.11', '10.200.0.12'],
  realServers6: ['2001:db8:200::11', '2001:db8:200::12'],
} as const;

export interface NatLab {
  lab: Lab;
  switches: { pub: string; priv: string };
  director: Host;
  client: Host;
  realServers: Host[];
  /** One HTTP GET from the client; resolves with the body (`hello from rs1`). */
  httpGet(url: string): Promise<string>;
  /** A TCP connection from the client to address:9000 whose server echoes each line
   *  prefixed with its name (`rs2 got: hello`). */
  openEcho(address: string): Promise<EchoSession>;
  destroy(): Promise<void>;
}

export interface EchoSession {
  /** Sends a line and resolves with the server's reply. */
  exchange(line: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * VS/NAT: client ── pub ── director ── priv ── rs1, rs2. The director holds the VIPs
 * and is the real servers' gateway; rs1/rs2 serve HTTP on :80 (IPv4 and IPv6) and a
 * line echo on :9000 (busybox).
 */
export async function natLab(): Promise<NatLab> {
  const lab = await Lab.create();
  const files = mkdtempSync(join(tmpdir(), 'tandem-ipvs-'));
  try {
    const director: Host = { name: 'director', netns: directorNetns };
    const pub = await lab.addSwitch('pub');
    const priv = await lab.addSwitch('priv');
    // nodad: IPv6 addresses are usable at once instead of after duplicate detection
    await lab.connect(director, 'pub0', pub, [
      `${addresses.director}/24`,
      `${addresses.vip}/24`,
      `${addresses.director6}/64 nodad`,
      `${addresses.vip6}/64 nodad`,
    ]);
    await lab.connect(director, 'priv0', priv, [`${addresses.gateway}/24`, `${addresses.gateway6}/64 nodad`]);
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    writeFileSync('/proc/sys/net/ipv6/conf/all/forwarding', '1');

    const client = await lab.addHost('client');
    await lab.connect(client, 'eth0', pub, [`${addresses.client}/24`, `${addresses.client6}/64 nodad`]);

    const realServers: Host[] = [];
    for (const [index, address] of addresses.realServers.entries()) {
      const name = `rs${index + 1}`;
      const host = await lab.addHost(name);
      await lab.connect(host, 'eth0', priv, [`${address}/24`, `${addresses.realServers6[index]}/64 nodad`]);
      await lab.ipBatch(host.netns, [`route add default via ${addresses.gateway}`, `route add default via ${addresses.gateway6}`]);
      await realServer(lab, host, files, { http: [80], echo: 9000 });
      realServers.push(host);
    }

    return {
      lab,
      switches: { pub, priv },
      director,
      client,
      realServers,
      async httpGet(url) {
        return (await lab.exec(client, 'busybox', ['timeout', '10', 'busybox', 'wget', '-q', '-O-', url])).stdout.trim();
      },
      openEcho(address) {
        return Promise.resolve(openEcho(lab, client, address));
      },
      async destroy() {
        await lab.destroy();
        rmSync(files, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await lab.destroy();
    rmSync(files, { recursive: true, force: true });
    throw error;
  }
}

/** The servers of a real server (busybox): HTTP on each of `http` answering `hello from
 *  NAME`, and a line echo on `echo` (`NAME got: LINE`). Files go under `files`. */
export async function realServer(
  lab: Lab,
  host: Host,
  files: string,
  ports: { http: number[]; echo?: number },
): Promise<{ http: ChildProcess[]; echo?: ChildProcess }> {
  const root = join(files, host.name);
  rmSync(root, { recursive: true, force: true });
  await run('mkdir', ['-p', root]);
  writeFileSync(join(root, 'index.html'), `hello from ${host.name}\n`);
  const echo = join(files, `${host.name}-echo.sh`);
  writeFileSync(echo, `#!/bin/sh\nwhile read -r line; do echo "${host.name} got: $line"; done\n`);
  chmodSync(echo, 0o755);
  // no pipes: the servers' per-connection children must not hold this process open
  return {
    http: ports.http.map((port) => serveHttp(lab, host, files, port)),
    ...(ports.echo !== undefined && {
      echo: lab.spawn(host, 'busybox', ['nc', '-ll', '-p', String(ports.echo), '-e', echo], { stdio: 'ignore' }),
    }),
  };
}

/** (Re)starts the HTTP server of a real server set up by realServer. */
export function serveHttp(lab: Lab, host: Host, files: string, port: number): ChildProcess {
  return lab.spawn(host, 'busybox', ['httpd', '-f', '-p', String(port), '-h', join(files, host.name)], { stdio: 'ignore' });
}

/** A TCP connection from `client` to address:port (9000 by default) of a line echo server. */
export function openEcho(lab: Lab, client: Host, address: string, port = 9000): EchoSession {
  return echoSession(lab.spawn(client, 'busybox', ['nc', address, String(port)]));
}

function echoSession(child: ChildProcess): EchoSession {
  let received = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    received += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    async exchange(line, timeoutMs = 10_000) {
      child.stdin?.write(`${line}\n`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const reply = received.split('\n').find((candidate) => candidate.endsWith(` got: ${line}`));
        if (reply) return reply;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`no echo of ${JSON.stringify(line)} within ${timeoutMs} ms (received ${JSON.stringify(received)})`);
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    /** Ends the client, which closes the connection (and the server's echo loop). */
    async close() {
      await stopChild(child);
    },
  };
}
