import type { SyncRole } from '../cluster/index.js';
import type { Model } from '../config/model.js';
import type { MonitorStats, ServerStatusState } from '../health/index.js';
import type { JsonRows } from '../lib/json-chunks.js';
import type { IpvsTimeouts, SyncDaemon } from './genl/codec.js';
import type { IpvsDestination, IpvsService } from './table.js';

/**
 * The load-balancing half of the active role: the IPVS table, the real-server health
 * checks and the kernel's connection sync daemon. The host controller drives it from
 * the election's claim/release/setSyncRole actions and from reloads.
 *
 * IPVS trouble (a kernel without IPVS, a failed netlink call) never rejects: it is
 * logged, shown in status and retried by the next reconcile, because the addresses
 * must move whether or not the table could be programmed.
 */
export interface Balancer {
  /** Claim: program the table and start health checks. Called before the addresses are added,
   *  so the first packet to a VIP finds its service. */
  activate(): Promise<void>;
  /** Release: stop health checks, remove tandem's services (or quiesce them when the model
   *  says to keep them). Called after the addresses are gone. */
  deactivate(): Promise<void>;
  setSyncRole(role: SyncRole): Promise<void>;
  /** A new model: reconcile with it in the current role; never changes the role. */
  reload(model: Model): Promise<void>;
  /** For `tandem status`: reads the kernel's table; never rejects. */
  status(): Promise<BalancerStatus<ServiceList>>;
  close(): Promise<void>;
}

/** Whether this node can program IPVS. `unused`: nothing configured needs it, so it was never opened. */
export type IpvsAvailability =
  | { state: 'unused' }
  | { state: 'available'; version: string; connectionTableSize: number }
  | { state: 'unavailable'; since: string; error: string; remedy: string };

/** A real (or sorry) server's health, as `tandem status` shows it. Times are ISO dates. */
export interface RealServerHealth {
  server: string;
  /** `sorry`: the service's sorry server, in the table while no real server is up. */
  kind: 'real' | 'sorry';
  /** `unknown`: not checked yet (counts as up); `unchecked`: no check configured (always up). */
  state: ServerStatusState | 'sorry';
  up: boolean;
  since?: string;
  /** How long it has been in this state (ms), when status was taken. */
  forMs?: number;
  /** Configured weight, and the weight health gives it now (less during slow start, 0 when down). */
  weight: number;
  effectiveWeight: number;
  lastFailure?: { at: string; reason?: string; message: string; received?: string };
  /** Down and passing checks: how long until it is put back. */
  reentryRemainingMs?: number;
  /** Back up and ramping: how long until it carries its full weight. */
  slowStartRemainingMs?: number;
  /** Why it is not checked. */
  note?: string;
}

export interface DestinationStatus extends IpvsDestination {
  /** Absent for a destination tandem did not configure. */
  health?: RealServerHealth;
}

export interface ServiceStatus extends IpvsService {
  /** The configured virtual service this is; absent for a service tandem does not manage. */
  name?: string;
  destinations: DestinationStatus[];
  /** Configured servers that are not in the kernel's table (down and removed, or not yet added). */
  absent: Array<{ address: string; port: number; family: 4 | 6; forwarding: IpvsDestination['forwarding']; health: RealServerHealth }>;
}

export interface ReconcileRecord {
  at: string;
  reason: string;
  operations: number;
  failures: number;
  durationMs: number;
}

/** The services of a status: objects, or the text of them from the balancer's thread. */
export type ServiceList = ServiceStatus[] | JsonRows<ServiceStatus>;

/** `Services`: the daemon's side has a ServiceList; what the control socket's client reads, an array. */
export interface BalancerStatus<Services extends ServiceList = ServiceStatus[]> {
  /** `active`: the table is programmed and health is checked; `inactive`: backup, released or stopped. */
  role: 'active' | 'inactive';
  since: string;
  ipvs: IpvsAvailability;
  /** The kernel's table, each destination with the health of its server. Absent when IPVS cannot be read. */
  services?: Services;
  /** Configured services the active node's kernel does not have (the next repair adds them). */
  missingServices?: string[];
  /** Why the table could not be read for this status. */
  readError?: string;
  timeouts?: IpvsTimeouts;
  sync: {
    /** The kernel's daemons on the sync link (sync.enabled without sync.ipvs.enabled). */
    enabled: boolean;
    /** IPVS connections go over tandem's channel instead (the daemons on lo are the sync engine's). */
    overChannel?: boolean;
    /** What the election asked for: master on the active node, backup on the other. */
    role: SyncRole;
    interface?: string;
    syncId: number;
    port: number;
    /** The kernel's sync daemons, as read now. */
    running: SyncDaemon[];
    error?: string;
  };
  health: MonitorStats;
  lastReconcile?: ReconcileRecord;
  /** Operations that failed and are retried with the next reconcile. */
  failing: string[];
  /** Drift repairs: the kernel's table changed behind tandem's back (ipvsadm -C, -d, …). */
  repairs: { count: number; last?: { at: string; operations: string[] } };
}
