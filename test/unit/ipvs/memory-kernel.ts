// The whole of what the balancer asks of the kernel's IPVS, in memory: the table (with the
// kernel's refusals, from MemoryIpvs), timeouts and sync daemons. The real kernel is the VM
// tier's (test/ipvs).
import type { IpvsInfo, IpvsTimeouts, ServiceIdentity, SyncDaemon, SyncDaemonState } from '../../../src/ipvs/index.js';
import type { IpvsKernel } from '../../../src/ipvs/ipvs-balancer.js';
import { MemoryIpvs } from '../../support/memory-ipvs.js';

export class MemoryKernel extends MemoryIpvs implements IpvsKernel {
  timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  daemons: SyncDaemon[] = [];
  closed = false;
  /** Simulated time a listing of the services takes (a large table in a real kernel). */
  listLatencyMs = 0;

  /** Runs before each reading of a service's destinations: someone changing the table mid-read. */
  beforeListDestinations?: (service: ServiceIdentity) => void;

  override async listServices() {
    if (this.listLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.listLatencyMs));
    return super.listServices();
  }

  override async listDestinations(service: ServiceIdentity) {
    this.beforeListDestinations?.(service);
    return super.listDestinations(service);
  }

  info(): Promise<IpvsInfo> {
    return Promise.resolve({ version: '1.2.1', connectionTableSize: 4096 });
  }

  close(): void {
    this.closed = true;
  }

  getTimeouts(): Promise<IpvsTimeouts> {
    return Promise.resolve({ ...this.timeouts });
  }

  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void> {
    Object.assign(this.timeouts, timeouts);
    return Promise.resolve();
  }

  listDaemons(): Promise<SyncDaemon[]> {
    return Promise.resolve(structuredClone(this.daemons));
  }

  startDaemon(daemon: SyncDaemon): Promise<void> {
    if (this.daemons.some((running) => running.state === daemon.state)) return Promise.reject(new Error(`start-daemon: EEXIST`));
    this.daemons.push({ ...daemon });
    return Promise.resolve();
  }

  stopDaemon(state: SyncDaemonState): Promise<void> {
    if (!this.daemons.some((running) => running.state === state)) return Promise.reject(new Error('stop-daemon: ESRCH'));
    this.daemons = this.daemons.filter((running) => running.state !== state);
    return Promise.resolve();
  }

  /** ipvsadm -C. */
  flush(): void {
    this.services.clear();
  }

  /** service key → `address:port weight` of each destination, sorted. */
  weights(): Record<string, string[]> {
    return Object.fromEntries(
      this.snapshot().map((service) => [
        `${service.address}:${service.port}`,
        service.destinations.map((d) => `${d.address}:${d.port} ${d.weight}`),
      ]),
    );
  }
}
