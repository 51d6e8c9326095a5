// What the daemon does with the election's decisions. The host implementation
// (addresses over rtnetlink, gratuitous ARP, IPVS, hooks) comes from src/net and
// friends; until it is wired in, LoggingController only reports what it would do.
import type { HookKind, SyncRole, Transition, TransitionReason } from '../cluster/index.js';
import type { Logger } from '../log.js';

export interface Controller {
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
   * Queue a hook (active_cmd, inactive_cmd, notify) for this transition. Must
   * return at once: hooks run in transition order elsewhere and never delay a
   * heartbeat or an address change.
   */
  runHook(hook: HookKind, transition: Transition): void;
  /**
   * The daemon is stopping, after its last release: finish what is queued (hooks,
   * bounded by their timeout), stop watching links.
   */
  close(): Promise<void>;
}

export class LoggingController implements Controller {
  constructor(private readonly logger: Logger) {}

  async claim(request: { term: number; reason: TransitionReason }): Promise<void> {
    this.logger.info({ event: 'controller.claim', ...request }, 'claim: would add and announce the addresses');
  }

  async release(request: { reason: TransitionReason }): Promise<void> {
    this.logger.info({ event: 'controller.release', ...request }, 'release: would remove the addresses');
  }

  async announce(request: { reason: string }): Promise<void> {
    this.logger.info({ event: 'controller.announce', ...request }, 'announce: would announce the addresses again');
  }

  async setSyncRole(role: SyncRole): Promise<void> {
    this.logger.info({ event: 'controller.sync-role', role }, `sync role: ${role}`);
  }

  runHook(hook: HookKind, transition: Transition): void {
    this.logger.debug({ event: 'controller.hook', hook, from: transition.from, to: transition.to }, `hook ${hook}: nothing configured to run yet`);
  }

  async close(): Promise<void> {}
}
