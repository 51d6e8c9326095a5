// The one configuration model every front end (lvs.cf, tandem.yaml, ipvsadm rules,
// lvs-director's lvs.conf) produces and everything downstream reads. Nothing here
// knows which file a value came from. All durations are milliseconds, all addresses
// are IP literals (host names are resolved by the loader), all defaults are filled in.

import type { IpAddress, IpFamily } from '../lib/address.js';

export type { IpAddress, IpFamily };

export type Milliseconds = number;
export type Seconds = number;

/** An address a director claims when active: a VIP or the NAT gateway. */
export interface ClaimedAddress {
  address: IpAddress;
  family: IpFamily;
  prefix: number;
  /** Base device, e.g. `eth0`. Undefined when the source did not say (ipvsadm rules):
   *  the daemon then picks the device whose subnet holds the address. */
  device?: string;
  /** Alias label shown by `ip addr` / ifconfig, e.g. `eth0:1` (IPv4 only). */
  label?: string;
}

export interface NodeSpec {
  name: string;
  /** Public address: heartbeats are sent to / from it. */
  address: IpAddress;
  /** Optional second heartbeat path (Piranha's primary_private / backup_private). */
  privateAddress?: IpAddress;
  /** Higher wins when both are healthy (and on preemption). */
  priority: number;
}

export interface HeartbeatSpec {
  port: number;
  keepalive: Milliseconds;
  deadtime: Milliseconds;
  /** A heartbeat later than this (since the previous one) is logged as late. */
  warntime: Milliseconds;
  /** Deadtime used once, at start, before the peer has ever been heard. */
  initdead: Milliseconds;
}

export interface AuthSpec {
  keyFile: string;
  /** The key id this node signs with; any key in the file verifies (rotation). */
  keyId: number;
}

export type NetworkType = 'nat' | 'direct' | 'tunnel';

export type Forwarding = 'masq' | 'gate' | 'ipip';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** How a tunnelled (`ipip`) real server's packets are wrapped (kernel 5.3+): IP in IP,
 *  Generic UDP Encapsulation or GRE. */
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** Checksums in the tunnel header: none, computed, or remote checksum offload (GUE only). */
export type TunnelChecksum = 'none' | 'csum' | 'remcsum';

export interface Tunnel {
  type: TunnelType;
  /** GUE only: the UDP port the real server decapsulates on. */
  port?: number;
  checksum: TunnelChecksum;
}

/** A scheduler's own flags (ipvsadm -b): `sh-*` only for sh, `mh-*` only for mh;
 *  flag-1..3 are the same three bits under any scheduler. */
export type SchedulerFlag = 'flag-1' | 'flag-2' | 'flag-3' | 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

/** The kernel's persistence engines (ipvsadm --pe). */
export type PersistenceEngine = 'sip';

export interface RealServer {
  name: string;
  address: IpAddress;
  family: IpFamily;
  /** 0 means "same as the virtual service's port" (ipvsadm's rule). */
  port: number;
  weight: number;
  /** An inactive server is configured but never put into the table. */
  active: boolean;
  forwarding: Forwarding;
  upperThreshold: number;
  lowerThreshold: number;
  /** GUE or GRE encapsulation of an `ipip` server; absent: plain IP in IP. */
  tunnel?: Tunnel;
}

export interface SorryServer {
  address: IpAddress;
  family: IpFamily;
  port: number;
  forwarding: Forwarding;
  weight: number;
}

/** Inclusive range of HTTP status codes; a single code has from === to. */
export interface StatusRange {
  from: number;
  to: number;
}

export type HealthCheckKind = 'none' | 'tcp' | 'send-expect' | 'http' | 'exec';

export type SlowStartCurve = 'linear' | 'doubling';

export interface HealthCheckSpec {
  kind: HealthCheckKind;
  /** Time between checks of one real server. */
  interval: Milliseconds;
  /** Per-check limit; also (Piranha) how long a server may be unresponsive. */
  timeout: Milliseconds;
  /** How long a failed server must pass checks before it is put back. */
  reentry: Milliseconds;
  /** Consecutive passing checks a failed server needs as well (Piranha: reentry / interval). */
  reentryChecks: number;
  /** Consecutive failed checks that take a server out. */
  failures: number;
  /** After a failed check of a server not yet down, the next one comes this much later
   *  instead of `interval` (keepalived's delay_before_retry). */
  retryInterval?: Milliseconds;
  /** send/expect (Piranha) — `send` may contain \r\n already unescaped. */
  send?: string;
  expect?: string;
  useRegex: boolean;
  /** External program; `%h` is replaced by the real server's address. */
  sendProgram?: string;
  http?: {
    path: string;
    host?: string;
    status: number;
    /** Accepted status codes as inclusive ranges (keepalived's `status_code 200-299 301`,
     *  ldirectord's any 2xx); when set, `status` is only what messages name first. */
    statusCodes?: StatusRange[];
    bodyRegex?: string;
    /** MD5 of the body, lower-case hex (keepalived's `digest`, made by genhash). */
    digest?: string;
    /** HTTPS (keepalived's SSL_GET, ldirectord's `service = https`); the certificate is not verified. */
    tls?: boolean;
  };
  /** Check this port instead of the real server's (ldirectord's `checkport`, keepalived's `connect_port`). */
  port?: number;
  /** Down servers get weight 0 instead of being removed. */
  quiesceServer: boolean;
  /** Ramp the weight up over this period after re-entry (0 = off). */
  slowStart: Milliseconds;
  /** linear: from 1 to the weight. doubling (Piranha's nanny): from 1/32 of the weight,
   *  doubled in each of 6 equal steps. */
  slowStartCurve: SlowStartCurve;
  /** Accepted from lvs.cf (`load_monitor`) and kept; tandem does not act on it. */
  loadMonitor?: string;
}

export interface Persistence {
  timeout: Seconds;
  /** Persistence granularity (`pmask` / `-M`), as a netmask or IPv6 prefix length. */
  netmask?: string;
}

export interface VirtualService {
  name: string;
  active: boolean;
  /** The address to claim on the active node. Absent for fwmark services that came
   *  from an ipvsadm rules file (the rules do not say which address the mark covers). */
  vip?: ClaimedAddress;
  protocol: Protocol;
  /** Set for firewall-mark services; address and port then do not select traffic. */
  fwmark?: number;
  /** Only for a fwmark service without `vip` that is IPv6 (ipvsadm `-f N -6`); otherwise
   *  the family is the VIP's (or IPv4). */
  family?: IpFamily;
  /** 0 = all ports (a persistent port-0 service). */
  port: number;
  scheduler: string;
  /** Absent: none. */
  schedulerFlags?: SchedulerFlag[];
  persistence?: Persistence;
  /** Persistence by application data (SIP Call-ID) instead of the client address. */
  persistenceEngine?: PersistenceEngine;
  /** ipvsadm `-o` one-packet scheduling and similar service flags. */
  onePacket: boolean;
  sorryServer?: SorryServer;
  healthCheck: HealthCheckSpec;
  realServers: RealServer[];
}

/** What health checking says about one real server of the model: whether it is in service
 *  and the weight it should have now (the configured weight, or less during slow start).
 *  Health answers it; the IPVS desired table and status ask it. */
export type HealthView = (service: VirtualService, server: RealServer) => { up: boolean; weight: number };

/** When a takeover writes the conntrack cache into the kernel: before the gratuitous ARP
 *  (the claim waits for it) or at the same time as the claim. */
export type CommitTiming = 'before-announce' | 'beside-announce';

export interface ConntrackSyncSpec {
  enabled: boolean;
  /** The backup's cache holds at most this many entries. */
  cacheMaxEntries: number;
  commit: CommitTiming;
  /** CIDRs (`192.0.2.0/24`, a bare address is a host). An empty include means the default:
   *  the NAT gateway's subnet and the VIPs. The directors' own addresses are always excluded. */
  filter: { include: string[]; exclude: string[] };
}

export interface SyncSpec {
  /** The kernel's IPVS sync daemons (master on the active, backup on the other). */
  enabled: boolean;
  /** Interface the sync traffic uses; default: the one holding this node's address. */
  interface?: string;
  syncId: number;
  port: number;
  /** Multicast group of the sync messages; absent: the kernel's 224.0.0.81. */
  group?: IpAddress;
  /** Absent: the kernel's 1. */
  ttl?: number;
  /** Largest sync message payload; absent: the kernel's, from the interface's MTU. */
  maxLength?: number;
  // The two below are always set by normalise; absent (a model built by hand) means off.
  /** The NAT gateway's connection tracking, over tandem's authenticated channel (port `port`). */
  conntrack?: ConntrackSyncSpec;
  /** The IPVS connection table, over tandem's authenticated channel. */
  ipvs?: { enabled: boolean };
  /** The kernel's sync daemons on loopback, which tandem reads and writes for its own sync;
   *  absent: the defaults (ipvsKernelSyncDefaults() of config/). */
  ipvsKernel?: IpvsKernelSyncSpec;
}

/** `sync.ipvs.kernel`: net.ipv4.vs.sync_* and the loopback group the daemons use. */
export interface IpvsKernelSyncSpec {
  /** Multicast group on `lo` of the master's messages (read by tandem) and the backup's (written by tandem). */
  group: IpAddress;
  /** The master daemon sends to port…port+ports-1; the backup daemon listens on port+64…. */
  port: number;
  /** sync_threshold: incoming packets before a connection is first sent. */
  threshold: number;
  /** sync_period: resend every this many packets after; 0: on state changes and refreshes only. */
  period: number;
  /** sync_refresh_period in seconds: resend a busy connection at most this often. */
  refreshPeriod: Seconds;
  retries: number;
  persistMode: boolean;
  /** sync_ports: master threads and ports (a power of two, at most 64). */
  ports: number;
  /** sync_qlen_max; absent: the kernel's (1/32 of memory pages). */
  queueLimit?: number;
  /** sync_sock_size in bytes; absent: the kernel's (net.core.[rw]mem_default). */
  socketSize?: number;
}

export interface IpvsTimeouts {
  tcp?: Seconds;
  tcpFin?: Seconds;
  udp?: Seconds;
}

export interface HooksSpec {
  activeCmd?: string;
  inactiveCmd?: string;
  notify?: string;
  timeout: Milliseconds;
}

export interface AnnounceSpec {
  /** Gratuitous ARP / unsolicited NA frames per address on claim. */
  count: number;
  interval: Milliseconds;
  /** Re-announce periodically while active; 0 = off. */
  refresh: Milliseconds;
}

export interface MonitorLinksSpec {
  enabled: boolean;
  /** Extra devices to watch besides the ones carrying VIPs, the NAT gateway and heartbeats. */
  interfaces: string[];
}

/** Where the Prometheus exporter listens. */
export interface MetricsSpec {
  host: IpAddress;
  port: number;
}

export interface Model {
  cluster: string;
  serialNo: number;
  /** The directors, primary first. One node means a standalone director; none means the
   *  file described only the IPVS table (ipvsadm rules, lvs.conf), and resolveLocalNode
   *  makes this host a standalone director. */
  nodes: NodeSpec[];
  heartbeat: HeartbeatSpec;
  auth: AuthSpec;
  /** true: the higher-priority node takes the active role back when it returns. */
  preempt: boolean;
  network: NetworkType;
  natRouter?: ClaimedAddress;
  /** For `network nat`: set net.ipv4.ip_forward=1 on claim instead of refusing. */
  enableForwarding: boolean;
  virtualServices: VirtualService[];
  sync: SyncSpec;
  ipvsTimeouts: IpvsTimeouts;
  hooks: HooksSpec;
  announce: AnnounceSpec;
  monitorLinks: MonitorLinksSpec;
  /** On release, keep tandem's IPVS services with all weights 0 instead of deleting them. */
  keepServicesOnRelease: boolean;
  /** Absent: no metrics endpoint. */
  metrics?: MetricsSpec;
}
