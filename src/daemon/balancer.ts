import type { SyncRole } from '../cluster/index.js';
import type { Model } from '../config/model.js';

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
  close(): Promise<void>;
}
