// `monitor_links`: the state of the links tandem depends on, from rtnetlink multicast
// notifications (no polling), so a cable pulled on the active moves the role within
// one event. A link counts as up when it is administratively up and running (carrier
// present); a missing link is down.
import { EventEmitter } from 'node:events';
import { rt, type NetlinkMessage } from 'netlink';
import type { Logger } from '../log.js';
import { hostLink, openRtnetlink, type HostLink, type RtNetlinkSocket } from './rtnl.js';

// A message header's type is a plain number, whatever family it belongs to.
const NEWLINK: number = rt.MessageType.NEWLINK;
const DELLINK: number = rt.MessageType.DELLINK;

export type LinkCondition = 'up' | 'admin-down' | 'no-carrier' | 'missing';

export interface LinkState {
  device: string;
  up: boolean;
  condition: LinkCondition;
}

export interface LinkEvent extends LinkState {
  /** The state read at start, not a change. */
  initial: boolean;
}

export function linkCondition(link: HostLink | undefined): LinkCondition {
  if (!link) return 'missing';
  if (!link.adminUp) return 'admin-down';
  return link.running ? 'up' : 'no-carrier';
}

/** The monitored links' states, fed snapshots and notifications; returns the changes. Pure. */
export class LinkTracker {
  private readonly conditions = new Map<string, LinkCondition>();
  private readonly nameOfIndex = new Map<number, string>();

  constructor(readonly devices: readonly string[]) {}

  /** A full dump: every monitored device gets a state (missing if absent). */
  snapshot(links: HostLink[], initial: boolean): LinkEvent[] {
    this.nameOfIndex.clear();
    for (const link of links) this.nameOfIndex.set(link.index, link.name);
    return this.devices.flatMap((device) => this.set(device, linkCondition(links.find((l) => l.name === device)), initial));
  }

  /** RTM_NEWLINK: a link appeared or changed (possibly its name). */
  changed(link: HostLink): LinkEvent[] {
    const previousName = this.nameOfIndex.get(link.index);
    this.nameOfIndex.set(link.index, link.name);
    const renamedAway = previousName !== undefined && previousName !== link.name ? this.set(previousName, 'missing') : [];
    return [...renamedAway, ...this.set(link.name, linkCondition(link))];
  }

  /** RTM_DELLINK (deleted, or moved to another namespace). */
  removed(index: number): LinkEvent[] {
    const name = this.nameOfIndex.get(index);
    this.nameOfIndex.delete(index);
    return name === undefined ? [] : this.set(name, 'missing');
  }

  isUp(device: string): boolean {
    return this.conditions.get(device) === 'up';
  }

  current(): LinkState[] {
    return this.devices.map((device) => {
      const condition = this.conditions.get(device) ?? 'missing';
      return { device, up: condition === 'up', condition };
    });
  }

  private set(device: string, condition: LinkCondition, initial = false): LinkEvent[] {
    if (!this.devices.includes(device)) return [];
    const before = this.conditions.get(device);
    this.conditions.set(device, condition);
    const up = condition === 'up';
    if (!initial && before !== undefined && (before === 'up') === up) return [];
    return [{ device, up, condition, initial }];
  }
}

/** Dumps repeated because notifications arrived meanwhile, before giving up on a quiet moment. */
const MAX_SYNC_ROUNDS = 5;

/**
 * Emits `link` events for the monitored devices: their initial state when started,
 * then each up/down change as the kernel reports it. If the kernel drops notifications
 * (socket overrun), the state is read again and only real changes are emitted.
 */
export class LinkMonitor extends EventEmitter<{ link: [LinkEvent] }> {
  private readonly tracker: LinkTracker;
  private readonly logger: Logger;
  private syncing = false;
  private missedDuringSync = 0;

  constructor(
    devices: readonly string[],
    logger: Logger,
    private readonly netlink: RtNetlinkSocket = openRtnetlink(),
  ) {
    super();
    this.tracker = new LinkTracker([...new Set(devices)]);
    this.logger = logger.child({ component: 'links' });
  }

  /** Subscribes, reads the initial state, emits it (initial: true) and returns it. */
  async start(): Promise<LinkState[]> {
    this.netlink.socket.on('message', (messages) => this.receive(messages));
    this.netlink.socket.on('error', (error) => {
      this.logger.warn({ event: 'links.overrun', err: error }, 'link notifications lost; reading link state again');
      // a dump under way is simply repeated; never two dumps at once on one socket
      if (this.syncing) this.missedDuringSync++;
      else void this.sync(false).catch((e: unknown) => this.logger.error({ event: 'links.failed', err: e }, 'cannot read link state'));
    });
    this.netlink.addMembership('LINK');
    await this.sync(true);
    return this.tracker.current();
  }

  isUp(device: string): boolean {
    return this.tracker.isUp(device);
  }

  states(): LinkState[] {
    return this.tracker.current();
  }

  close(): void {
    this.netlink.socket.close();
  }

  private async sync(initial: boolean): Promise<void> {
    this.syncing = true;
    try {
      for (let round = 0; round < MAX_SYNC_ROUNDS; round++) {
        this.missedDuringSync = 0;
        const links = (await this.netlink.getLinks()).flatMap((m) => hostLink(m) ?? []);
        this.publish(this.tracker.snapshot(links, initial && round === 0));
        if (this.missedDuringSync === 0) break;
      }
    } finally {
      this.syncing = false;
    }
  }

  private receive(messages: NetlinkMessage[]): void {
    for (const message of messages) {
      if (message.type !== NEWLINK && message.type !== DELLINK) continue;
      // A notification racing a dump may be older or newer than it: the dump is redone instead.
      if (this.syncing) {
        this.missedDuringSync++;
        continue;
      }
      try {
        const parsed = rt.parseLinkMessage(message.data);
        if (message.type === DELLINK) {
          if (parsed.data.index !== undefined) this.publish(this.tracker.removed(parsed.data.index));
        } else {
          const link = hostLink(parsed);
          if (link) this.publish(this.tracker.changed(link));
        }
      } catch (error) {
        this.logger.warn({ event: 'links.invalid', err: error }, 'unparseable link notification');
      }
    }
  }

  private publish(events: LinkEvent[]): void {
    for (const event of events) {
      this.logger.info(
        { event: event.initial ? 'link.initial' : 'link.change', device: event.device, up: event.up, condition: event.condition },
        `${event.device} ${event.condition}`,
      );
      this.emit('link', event);
    }
  }
}
