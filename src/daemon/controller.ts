// What the daemon does with the election's decisions. HostController
// (host-controller.ts) performs them on this host.
import type { HealthSummary, SyncRole, Transition, TransitionReason } from '../cluster/index.js';
import type { Model } from '../config/model.js';
import type { ControllerStatus } from '../control/index.js';

export interface Controller {
  /**
   * Before the election runs: bring the host to the state of a node that holds
   * nothing (stale addresses of an earlier run removed) and start watching the
   * monitored links. Resolves with this node's health; later changes go to `onHealth`.
   */
  start(onHealth: (health: HealthSummary) => void): Promise<HealthSummary>;
  /**
   * Take the active role: add the VIPs and the NAT gateway address, announce them,
   * start IPVS. Resolves once the addresses are in place and the first announcement
   * is out (repeats may continue in the background); rejects when the node cannot
   * serve (the election then goes FAULT and the peer takes over).
   */
  claim(request: { term: number; reason: TransitionReason }): Promise<void>;
  /** Give the role up: remove the addresses. The peer is told only after this resolves. */
  release(request: { reason: TransitionReason }): Promise<void>;
  /** Announce the addresses again now (we won a split brain). */
  announce(request: { reason: string }): Promise<void>;
  setSyncRole(role: SyncRole): Promise<void>;
  /**
   * Queue the hooks (active_cmd, inactive_cmd, notify) of this transition. Must
   * return at once: hooks run in transition order elsewhere and never delay a
   * heartbeat or an address change.
   */
  runHooks(transition: Transition): void;
  /**
   * The peer is heard again on this heartbeat path after silence: make sure it hears
   * us too (drop our unresolved neighbour entries for it). Must return at once.
   */
  refreshPeer(path: number): void;
  /** A reloaded configuration, applied in the current role (which it never changes). */
  reload(model: Model): Promise<void>;
  status(): ControllerStatus;
  /**
   * The daemon is stopping, after its last release: finish what is queued (hooks,
   * bounded by their timeout), stop watching links.
   */
  close(): Promise<void>;
}
