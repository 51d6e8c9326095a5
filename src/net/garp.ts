// Telling the segment that addresses moved here: gratuitous ARP (both the request and
// the reply form, since some routers only learn from one of them) for IPv4, unsolicited
// neighbour advertisements for IPv6. On claim, the first round leaves synchronously,
// then `count - 1` more rounds follow `interval` apart; with `refresh` set, a round
// repeats every `refresh` ms while the addresses are held.
import type { AnnounceSpec, IpFamily, Milliseconds } from '../config/model.js';
import { createStats, type AnnounceStats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import { gratuitousArp, unsolicitedNeighbourAdvertisement } from './frames.js';
import type { FrameSender } from './packet.js';

/** An address to announce and where from (a PlacedAddress from the AddressManager fits). */
export interface AnnounceTarget {
  address: string;
  family: IpFamily;
  ifindex: number;
  device: string;
  /** Links without a MAC (no ARP) have nothing to announce. */
  mac?: Buffer;
  /** Keep the router flag in neighbour advertisements (the NAT gateway). */
  router?: boolean;
}

interface Entry {
  target: AnnounceTarget;
  roundsLeft: number;
  dueAt: number;
}

/**
 * When each held address is announced next. Pure: time is passed in, and `due`
 * returns what to send instead of sending it.
 */
export class AnnounceSchedule {
  private readonly entries = new Map<string, Entry>();

  constructor(private spec: AnnounceSpec) {}

  /** A reloaded configuration: held addresses keep their place; later rounds follow the new spec. */
  setSpec(spec: AnnounceSpec): void {
    this.spec = spec;
  }

  /** (Re)starts the burst for these targets: their first round is due at `now`. */
  announce(targets: AnnounceTarget[], now: Milliseconds): void {
    for (const target of targets) {
      const roundsLeft = Math.max(0, this.spec.count);
      this.entries.set(target.address, { target, roundsLeft, dueAt: roundsLeft > 0 ? now : this.afterBurst(now) });
    }
  }

  /** The targets whose round is due at `now`, each advanced to its next round. */
  due(now: Milliseconds): AnnounceTarget[] {
    const due: AnnounceTarget[] = [];
    for (const entry of this.entries.values()) {
      if (entry.dueAt > now) continue;
      due.push(entry.target);
      entry.roundsLeft = Math.max(0, entry.roundsLeft - 1);
      entry.dueAt = entry.roundsLeft > 0 ? next(entry.dueAt, this.spec.interval, now) : this.afterBurst(entry.dueAt, now);
    }
    return due;
  }

  /** When the earliest round is due; undefined when nothing is. */
  nextDue(): Milliseconds | undefined {
    let earliest = Infinity;
    for (const entry of this.entries.values()) earliest = Math.min(earliest, entry.dueAt);
    return Number.isFinite(earliest) ? earliest : undefined;
  }

  /** Stops announcing these addresses (no longer held). */
  withdraw(addresses: string[]): void {
    for (const address of addresses) this.entries.delete(address);
  }

  held(): AnnounceTarget[] {
    return [...this.entries.values()].map((entry) => entry.target);
  }

  clear(): void {
    this.entries.clear();
  }

  private afterBurst(last: Milliseconds, now = last): Milliseconds {
    return this.spec.refresh > 0 ? next(last, this.spec.refresh, now) : Infinity;
  }
}

/** `period` after `last`, or after `now` when a late tick already passed that. */
function next(last: Milliseconds, period: Milliseconds, now: Milliseconds): Milliseconds {
  const at = last + period;
  return at > now ? at : now + period;
}

/** The frames of one round for a target: both ARP forms, or one neighbour advertisement. */
export function announcementFrames(target: AnnounceTarget): Buffer[] {
  if (!target.mac) return [];
  if (target.family === 4) {
    return [gratuitousArp(target.mac, target.address, 'request'), gratuitousArp(target.mac, target.address, 'reply')];
  }
  return [unsolicitedNeighbourAdvertisement(target.mac, target.address, target.router)];
}

export interface AnnouncerOptions {
  sender: FrameSender;
  spec: AnnounceSpec;
  logger: Logger;
  now?: () => Milliseconds;
  /** Where frames are counted; default: counters of its own. */
  stats?: AnnounceStats;
}

/**
 * Sends the rounds the schedule asks for. A frame that cannot be sent (link down,
 * device gone) is counted and logged once per address and error, never thrown: the
 * next round tries again.
 */
export class Announcer {
  private readonly stats: AnnounceStats;
  private readonly schedule: AnnounceSchedule;
  private readonly sender: FrameSender;
  private readonly logger: Logger;
  private readonly now: () => Milliseconds;
  private timer: NodeJS.Timeout | undefined;
  private readonly lastError = new Map<string, string>();

  constructor(options: AnnouncerOptions) {
    this.schedule = new AnnounceSchedule(options.spec);
    this.sender = options.sender;
    this.logger = options.logger.child({ component: 'announce' });
    this.now = options.now ?? (() => performance.now());
    this.stats = options.stats ?? createStats().announce;
  }

  /** Announces these addresses now (the first round is sent before this returns) and holds them. */
  announce(targets: AnnounceTarget[]): void {
    this.schedule.announce(targets, this.now());
    this.tick();
  }

  /** Stops announcing these addresses (removed by a reload while active). */
  withdraw(addresses: string[]): void {
    this.schedule.withdraw(addresses);
    for (const address of addresses) this.lastError.delete(address);
  }

  setSpec(spec: AnnounceSpec): void {
    this.schedule.setSpec(spec);
  }

  /** Forgets every held address and cancels pending rounds (on release). */
  stop(): void {
    this.schedule.clear();
    this.lastError.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    for (const target of this.schedule.due(now)) this.send(target);
    const nextDue = this.schedule.nextDue();
    if (nextDue !== undefined) this.timer = setTimeout(() => this.tick(), Math.max(0, nextDue - now));
  }

  private send(target: AnnounceTarget): void {
    for (const frame of announcementFrames(target)) {
      try {
        this.sender.send(target.ifindex, frame);
        this.stats.framesSent.inc();
        if (this.lastError.delete(target.address)) {
          this.logger.info({ event: 'announce.recovered', address: target.address, device: target.device }, 'announcing again');
        }
      } catch (error) {
        this.stats.framesFailed.inc();
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        if (this.lastError.get(target.address) !== code) {
          this.lastError.set(target.address, code);
          this.logger.warn(
            { event: 'announce.failed', address: target.address, device: target.device, code, err: error },
            `cannot announce ${target.address} on ${target.device}`,
          );
        }
      }
    }
  }
}
