// A deterministic simulation of two tandem nodes and the links between them, in
// simulated time. Each node runs the real Election and the real secure channel
// endpoint (protobuf heartbeat, HMAC envelope, replay checks); the network between
// them loses, delays, reorders and duplicates datagrams and can be partitioned per
// path and direction. Nodes can be killed, restarted, stopped gracefully, made
// unhealthy and given operator commands; an adversary replays authentic datagrams
// a node heard before (also right after it restarts, when it knows no peer boot).
// Everything that happens is recorded for the property checks.
import { ChannelEndpoint } from '../../../src/cluster/endpoint.js';
import { messageKinds } from '../../../src/cluster/envelope.js';
import {
  Election,
  type Action,
  type ElectionConfig,
  type ElectionEvent,
  type OperatorCommand,
  type Transition,
} from '../../../src/cluster/election.js';
import { decodeHeartbeat, encodeHeartbeat, roles, type HealthSummary, type Heartbeat, type Role } from '../../../src/cluster/heartbeat.js';
import { Keyring, macLength } from '../../../src/cluster/keys.js';
import { ChannelSessions, createBootId } from '../../../src/cluster/replay.js';
import { seededRandom } from '../../support/random.js';

/** Wall-clock ms of simulated time 0, for boot ids. */
const epoch = 1_750_000_000_000;

export interface Timers {
  keepalive: number;
  deadtime: number;
  warntime: number;
  initdead: number;
}

export interface LinkQuality {
  loss: number;
  duplication: number;
  minDelay: number;
  maxDelay: number;
}

export interface SimOptions {
  timers: Timers;
  preempt: boolean;
  priorities: [number, number];
  pathCount: number;
  link: LinkQuality;
  /** Timers fire up to this many ms late (scheduling jitter). */
  timerJitter: number;
  seed: number;
}

export type NodeIndex = 0 | 1;
export const nodeNames = ['ifw01', 'ifw02'] as const;

export type Direction = 'both' | 'AtoB' | 'BtoA';

export type Operation =
  | { at: number; type: 'partition'; path: number | 'all'; direction: Direction; duration: number }
  /** Like a partition, but what is sent meanwhile arrives, in order, when it ends (a queue behind neighbour resolution). */
  | { at: number; type: 'hold'; path: number | 'all'; direction: Direction; duration: number }
  /** With `replayOnRestart`, an adversary replays to the restarted node all it had accepted from the peer before. */
  | { at: number; type: 'kill'; node: NodeIndex; downFor: number; replayOnRestart?: boolean }
  | { at: number; type: 'stop'; node: NodeIndex; downFor: number; replayOnRestart?: boolean }
  | { at: number; type: 'operator'; node: NodeIndex; command: OperatorCommand }
  | { at: number; type: 'fault'; node: NodeIndex; duration: number }
  | { at: number; type: 'claimFails'; node: NodeIndex }
  | { at: number; type: 'replay'; node: NodeIndex; pick: number };

/** A heartbeat sealed into one datagram per path, and what its payload decodes to once a copy arrives. */
interface SentHeartbeat {
  payload: Uint8Array;
  decoded?: Heartbeat;
}

interface Recorded {
  datagram: Buffer;
  path: number;
}

export interface RoleSpan {
  node: NodeIndex;
  role: Role | 'DOWN';
  from: number;
  to: number;
}

export interface Violation {
  at: number;
  message: string;
}

type Outcome = 'proven' | 'unproven' | 'rejected' | 'down';

interface Delivery {
  at: number;
  /** Receiver boot generation. */
  generation: number;
}

class EventQueue {
  private heap: { at: number; order: number; run: () => void }[] = [];
  private order = 0;

  push(at: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ at, order: this.order++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(heap[parent]!, heap[i]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  pop(): { at: number; run: () => void } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  }

  private less(a: { at: number; order: number }, b: { at: number; order: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }
}

const healthy: HealthSummary = { canServe: true, monitorLinks: true, links: [{ name: 'eth0', up: true }], fault: '' };
const broken: HealthSummary = { canServe: false, monitorLinks: true, links: [{ name: 'eth0', up: false }], fault: 'eth0 down' };

/**
 * The real keyring's interface with a cheap MAC in place of HMAC-SHA256, which cost
 * half of every schedule. Nothing in the model forges or alters a datagram (the
 * adversary replays authentic ones), so every MAC check passes whatever the MAC
 * function is; HMAC itself is tested in keys.test.ts and channel.test.ts. Still a
 * digest of every byte: a datagram that did change would fail as 'bad-mac'.
 */
class SimKeyring extends Keyring {
  override sign(data: Uint8Array): Buffer {
    return cheapMac(data, this.signingKeyId);
  }

  override verify(keyId: number, data: Uint8Array, mac: Uint8Array): 'ok' | 'unknown-key' | 'bad-mac' {
    if (!this.has(keyId)) return 'unknown-key';
    return cheapMac(data, keyId).equals(mac) ? 'ok' : 'bad-mac';
  }
}

/** FNV-1a over every byte, seeded with the key id, in a MAC's length. */
function cheapMac(data: Uint8Array, keyId: number): Buffer {
  let hash = 0x811c9dc5 ^ keyId;
  for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data[i]!, 0x01000193);
  const mac = Buffer.allocUnsafe(macLength).fill(0);
  mac.writeInt32BE(hash, 0);
  return mac;
}

const keyring = new SimKeyring(new Map([[1, Buffer.alloc(32, 7)]]), 1);

class SimNode {
  election: Election | undefined;
  endpoint: ChannelEndpoint | undefined;
  generation = 0;
  bootAt = 0;
  health = healthy;
  claimFails = false;
  private timerToken = 0;
  /** Datagrams this boot accepted and the path each came on, for replay attacks. */
  accepted: Recorded[] = [];
  /** Datagrams this node accepted in its earlier boots: recorded before its current boot. */
  olderBoots: Recorded[] = [];
  /** The peer boot this boot heard last and its newest sequence number per path: what the election counts as hearing. */
  private newest = { bootId: '', seqs: [] as number[] };

  constructor(
    readonly index: NodeIndex,
    private readonly sim: Simulation,
  ) {}

  get name(): string {
    return nodeNames[this.index];
  }

  get role(): Role | 'DOWN' {
    return this.election?.currentRole ?? 'DOWN';
  }

  start(now: number): void {
    this.generation += 1;
    this.bootAt = now;
    const other = nodeNames[1 - this.index]!;
    const sessions = new ChannelSessions(createBootId(epoch + now));
    this.endpoint = new ChannelEndpoint({ cluster: 'lab', self: this.name, peer: other }, messageKinds.heartbeat, keyring, sessions);
    const { timers, preempt, priorities, pathCount } = this.sim.options;
    const config: ElectionConfig = {
      self: { name: this.name, priority: priorities[this.index] },
      peer: { name: other, priority: priorities[1 - this.index]! },
      pathCount,
      ...timers,
      preempt,
      serialNo: 1,
    };
    this.election = new Election(config, now);
    this.olderBoots.push(...this.accepted);
    this.accepted = [];
    this.newest = { bootId: '', seqs: [] };
    this.sim.recordRole(this.index, now);
    if (!this.health.canServe) this.handle({ type: 'health', now, health: this.health });
    this.handle({ type: 'tick', now });
  }

  kill(now: number): void {
    this.generation += 1;
    this.election = undefined;
    this.endpoint = undefined;
    this.sim.recordRole(this.index, now);
  }

  handle(event: ElectionEvent): void {
    const election = this.election;
    if (!election) return;
    const before = election.currentRole;
    const actions = election.handle(event);
    this.sim.checkTransitions(this.index, event.now, before, election.currentRole, actions);
    this.sim.recordRole(this.index, event.now);
    const generation = this.generation;
    for (const action of actions) {
      if (this.generation !== generation) return;
      this.sim.actions.push({ node: this.index, at: event.now, action });
      this.perform(action, event.now);
    }
    if (this.election === election) this.scheduleWake(event.now);
  }

  private perform(action: Action, now: number): void {
    switch (action.type) {
      case 'sendHeartbeat': {
        const sent: SentHeartbeat = { payload: encodeHeartbeat(action.heartbeat) };
        for (let path = 0; path < this.sim.options.pathCount; path++) {
          const { datagram } = this.endpoint!.seal(sent.payload, path);
          this.sim.sentHeartbeats.set(datagram, sent);
          this.sim.transmit(this.index, path, datagram, now);
        }
        return;
      }
      case 'claim': {
        // A claim takes the driver a millisecond; then it reports, as the daemon does.
        const ok = !this.claimFails;
        this.claimFails = false;
        this.sim.queue.push(now + 1, () =>
          this.handle({ type: 'actionResult', now: now + 1, action: 'claim', ok, ...(!ok && { error: 'simulated' }) }),
        );
        return;
      }
      case 'operatorReply':
        this.sim.replies.push({ node: this.index, at: now, requestId: action.requestId, ok: action.ok, message: action.message });
        return;
      case 'stopped':
        this.kill(now);
        return;
      case 'log':
        this.sim.logs.push({ node: this.index, at: now, event: action.event });
        return;
      default:
        return;
    }
  }

  private scheduleWake(now: number): void {
    const token = ++this.timerToken;
    const generation = this.generation;
    const at = this.election!.nextWakeAt(now) + this.sim.random() * this.sim.options.timerJitter;
    this.sim.queue.push(at, () => {
      if (this.generation === generation && this.timerToken === token) this.handle({ type: 'tick', now: at });
    });
  }

  /** `advanced`: newer than what came before on its path, so it keeps the peer alive (an overtaken one does not). */
  receive(path: number, datagram: Buffer, now: number): { outcome: Outcome; advanced: boolean } {
    if (!this.endpoint) return { outcome: 'down', advanced: false };
    const opened = this.endpoint.open(datagram, path);
    if (!opened.ok) return { outcome: 'rejected', advanced: false };
    this.accepted.push({ datagram, path });
    if (opened.bootId !== this.newest.bootId) this.newest = { bootId: opened.bootId, seqs: [] };
    const advanced = opened.seq > (this.newest.seqs[path] ?? 0);
    if (advanced) this.newest.seqs[path] = opened.seq;
    this.handle({
      type: 'heartbeat',
      now,
      path,
      seq: opened.seq,
      bootId: opened.bootId,
      echoesUs: opened.echoesUs,
      proven: opened.proven,
      heartbeat: this.sim.decode(datagram, opened.payload),
    });
    return { outcome: opened.proven ? 'proven' : 'unproven', advanced };
  }
}

export class Simulation {
  readonly queue = new EventQueue();
  readonly random: () => number;
  readonly nodes: [SimNode, SimNode];
  readonly spans: RoleSpan[] = [];
  readonly violations: Violation[] = [];
  readonly replies: { node: NodeIndex; at: number; requestId: number; ok: boolean; message: string }[] = [];
  readonly requests: { node: NodeIndex; at: number; requestId: number }[] = [];
  readonly logs: { node: NodeIndex; at: number; event: string }[] = [];
  readonly transitions: { node: NodeIndex; transition: Transition }[] = [];
  readonly actions: { node: NodeIndex; at: number; action: Action }[] = [];
  /** Per receiving node: accepted datagrams from the other node that were news on their path (not overtaken). */
  readonly deliveries: [Delivery[], Delivery[]] = [[], []];
  /** Operations that disturb a node (operator, fault, kill, stop), for the liveness check. */
  readonly disturbances: { node: NodeIndex; at: number; until: number }[] = [];
  readonly kills: { node: NodeIndex; at: number }[] = [];
  /** Partitions and holds: the senders cut off, and whether on every path. */
  readonly cuts: { from: NodeIndex[]; allPaths: boolean; at: number; until: number }[] = [];
  /** Replayed datagrams and what the receiver made of them. */
  readonly replays: { node: NodeIndex; at: number; outcome: Outcome }[] = [];
  /**
   * While a replayed datagram that a node could not tell from the peer holds it
   * back (a deadtime), the pair may claim later than it would: liveness is not
   * promised under attack, safety is.
   */
  readonly attacks: { node: NodeIndex; at: number; until: number }[] = [];
  /** Partitions in force: [path][direction 0 = A→B, 1 = B→A]. */
  private readonly cut: number[][];
  /** Holds in force, as partitions, and what they hold. */
  private readonly held: number[][];
  private readonly holding: { from: NodeIndex; path: number; datagram: Buffer }[] = [];
  private readonly current: [RoleSpan | undefined, RoleSpan | undefined] = [undefined, undefined];
  private nextRequestId = 1;
  /** Per datagram sealed: the heartbeat in it, so that its copies on every path decode once. */
  readonly sentHeartbeats = new WeakMap<Buffer, SentHeartbeat>();

  constructor(readonly options: SimOptions) {
    this.random = seededRandom(options.seed);
    this.nodes = [new SimNode(0, this), new SimNode(1, this)];
    this.cut = Array.from({ length: options.pathCount }, () => [0, 0]);
    this.held = Array.from({ length: options.pathCount }, () => [0, 0]);
  }

  run(operations: Operation[], until: number): void {
    this.nodes.forEach((node) => this.queue.push(0, () => node.start(0)));
    for (const op of operations) this.queue.push(op.at, () => this.apply(op));
    for (let event = this.queue.pop(); event && event.at <= until; event = this.queue.pop()) event.run();
    this.nodes.forEach((node) => this.recordRole(node.index, until, true));
  }

  private apply(op: Operation): void {
    const node = 'node' in op ? this.nodes[op.node] : undefined;
    switch (op.type) {
      case 'partition':
      case 'hold': {
        const paths = op.path === 'all' ? [...this.cut.keys()] : [op.path % this.options.pathCount];
        const directions: NodeIndex[] = op.direction === 'both' ? [0, 1] : op.direction === 'AtoB' ? [0] : [1];
        this.cuts.push({ from: directions, allPaths: paths.length === this.options.pathCount, at: op.at, until: op.at + op.duration });
        const table = op.type === 'partition' ? this.cut : this.held;
        const change = (delta: number) => paths.forEach((p) => directions.forEach((d) => (table[p]![d]! += delta)));
        change(1);
        this.queue.push(op.at + op.duration, () => {
          change(-1);
          if (op.type === 'hold') this.release(op.at + op.duration);
        });
        return;
      }
      case 'kill':
      case 'stop': {
        if (!node!.election) return;
        this.disturbances.push({ node: op.node, at: op.at, until: op.at + op.downFor });
        if (op.type === 'kill') {
          this.kills.push({ node: op.node, at: op.at });
          node!.kill(op.at);
        } else {
          node!.handle({ type: 'stop', now: op.at });
        }
        this.queue.push(op.at + op.downFor, () => {
          // A stop may still be in progress; a real restart would wait for the old process.
          if (node!.election) node!.kill(op.at + op.downFor);
          node!.start(op.at + op.downFor);
          if (op.replayOnRestart) this.replayRecording(node!, op.at + op.downFor);
        });
        return;
      }
      case 'operator': {
        if (!node!.election) return;
        const requestId = this.nextRequestId++;
        this.disturbances.push({ node: op.node, at: op.at, until: op.at });
        this.requests.push({ node: op.node, at: op.at, requestId });
        node!.handle({ type: 'operator', now: op.at, requestId, command: op.command });
        return;
      }
      case 'fault': {
        this.disturbances.push({ node: op.node, at: op.at, until: op.at + op.duration });
        node!.health = broken;
        node!.handle({ type: 'health', now: op.at, health: broken });
        this.queue.push(op.at + op.duration, () => {
          node!.health = healthy;
          node!.handle({ type: 'health', now: op.at + op.duration, health: healthy });
        });
        return;
      }
      case 'claimFails':
        this.disturbances.push({ node: op.node, at: op.at, until: op.at + this.options.timers.deadtime * 2 });
        node!.claimFails = true;
        return;
      case 'replay':
        this.replayAttack(node!, op);
        return;
    }
  }

  /**
   * Sends a datagram the node accepted before to it again. One of its current boot
   * must be rejected. One recorded before it restarted cannot always be: knowing no
   * peer boot yet, it cannot tell the recording from the peer. But it must never
   * take it for proven, so it never acts on it.
   */
  private replayAttack(node: SimNode, op: Extract<Operation, { type: 'replay' }>): void {
    const pool = node.accepted.length > 0 && op.pick % 2 === 0 ? node.accepted : node.olderBoots;
    const recorded = pool[op.pick % Math.max(1, pool.length)];
    if (recorded) this.replay(node, recorded, op.at, pool === node.accepted ? 'accepted' : 'proven');
  }

  /** The adversary replays, in order, everything the node heard in its earlier boots, as it restarts. */
  private replayRecording(node: SimNode, at: number): void {
    const generation = node.generation;
    // What an unproven ACTIVE heartbeat says holds the node back for a deadtime: a disturbance like a fault.
    this.disturbances.push({ node: node.index, at, until: at + (node.olderBoots.length + 1) * 0.001 });
    node.olderBoots.forEach((recorded, i) => {
      const when = at + (i + 1) * 0.001;
      this.queue.push(when, () => {
        if (node.generation === generation) this.replay(node, recorded, when, 'proven');
      });
    });
  }

  /** On the path it was recorded on: moved to another, it is refused (`wrong-path`) before any replay check. */
  private replay(node: SimNode, { datagram, path }: Recorded, at: number, forbidden: 'accepted' | 'proven'): void {
    const { outcome } = node.receive(path, datagram, at);
    this.replays.push({ node: node.index, at, outcome });
    if (outcome === 'unproven') this.attacks.push({ node: node.index, at, until: at + this.options.timers.deadtime });
    const accepted = outcome === 'proven' || (forbidden === 'accepted' && outcome === 'unproven');
    if (accepted)
      this.violations.push({ at, message: `${node.name} accepted a replayed datagram${outcome === 'proven' ? ' as proven' : ''}` });
  }

  transmit(from: NodeIndex, path: number, datagram: Buffer, now: number): void {
    const { link } = this.options;
    if (this.cut[path]![from]! > 0 || this.random() < link.loss) return;
    if (this.held[path]![from]! > 0) {
      this.holding.push({ from, path, datagram });
      return;
    }
    const copies = this.random() < link.duplication ? 2 : 1;
    for (let i = 0; i < copies; i++)
      this.deliver(from, path, datagram, now + link.minDelay + this.random() * (link.maxDelay - link.minDelay));
  }

  /** Delivers, in order and at once, what is no longer held. */
  private release(now: number): void {
    const free = this.holding.filter(({ from, path }) => this.held[path]![from] === 0);
    this.holding.splice(0, this.holding.length, ...this.holding.filter((h) => !free.includes(h)));
    free.forEach(({ from, path, datagram }, i) => this.deliver(from, path, datagram, now + this.options.link.minDelay + i * 0.001));
  }

  private deliver(from: NodeIndex, path: number, datagram: Buffer, at: number): void {
    this.queue.push(at, () => {
      const receiver = this.nodes[1 - from]!;
      if (receiver.receive(path, datagram, at).advanced) this.deliveries[receiver.index].push({ at, generation: receiver.generation });
    });
  }

  /** The heartbeat in an opened payload, decoded once for all copies of the same bytes. */
  decode(datagram: Buffer, payload: Uint8Array): Heartbeat {
    const sent = this.sentHeartbeats.get(datagram);
    const same = sent !== undefined && Buffer.compare(sent.payload, payload) === 0;
    if (same && sent.decoded) return sent.decoded;
    const decoded = decodeHeartbeat(payload);
    if (!decoded.ok) throw new Error(`simulated peer sent an invalid heartbeat: ${decoded.error}`);
    if (same) sent.decoded = decoded.value;
    return decoded.value;
  }

  request(node: NodeIndex, command: OperatorCommand, at: number): void {
    this.queue.push(at, () => this.apply({ at, type: 'operator', node, command }));
  }

  recordRole(node: NodeIndex, now: number, final = false): void {
    const role = this.nodes[node].role;
    const span = this.current[node];
    if (span && span.role === role && !final) return;
    if (span) {
      span.to = now;
      if (span.to > span.from || final) this.spans.push(span);
    }
    this.current[node] = final ? undefined : { node, role, from: now, to: now };
  }

  /** Every role change is the chain of roleChanged actions of this step, each with a reason. */
  checkTransitions(node: NodeIndex, now: number, before: Role, after: Role, actions: Action[]): void {
    let role = before;
    for (const action of actions) {
      if (action.type !== 'roleChanged') continue;
      const t = action.transition;
      this.transitions.push({ node, transition: t });
      if (t.from !== role || !roles.includes(t.to)) {
        this.violations.push({
          at: now,
          message: `${nodeNames[node]}: roleChanged ${t.from}→${t.to} (${t.reason}) does not follow ${role}`,
        });
      }
      role = t.to;
    }
    if (role !== after) this.violations.push({ at: now, message: `${nodeNames[node]}: ${before}→${after} without a roleChanged action` });
  }
}
