// Operator hooks on role transitions: `active_cmd` on becoming active, `inactive_cmd`
// on leaving active, `notify` on every transition. They run one at a time, strictly in
// transition order (a script must never see "backup" before the "active" that preceded
// it), each bounded by a timeout, in their own process group so a timeout ends
// everything the hook started. Nothing waits for them: a slow hook only delays the hooks
// queued after it, never a heartbeat or an address change.
import { spawn } from 'node:child_process';
import { signalProcessGroup } from '../process-group.js';
import type { HooksSpec, Milliseconds } from '../config/model.js';
import { createStats, type HookStats } from '../lib/stats.js';
import type { Logger } from '../log.js';

export type HookKind = 'active' | 'inactive' | 'notify';

/** A role change as the hooks see it. Roles are the election's names, e.g. `active`, `backup`. */
export interface RoleTransition {
  from: string;
  to: string;
  reason: string;
  term?: number;
  peer?: string;
  /** The addresses this node holds while active, as `address/prefix`. */
  addresses: string[];
  /** When the transition happened (ms since the epoch). */
  at: number;
}

export interface HookJob {
  /** 1 for the first transition since the daemon started, then counting up. */
  transition: number;
  kind: HookKind;
  command: string;
  env: Record<string, string>;
}

export interface HookIdentity {
  cluster: string;
  node: string;
}

const isActive = (role: string) => role.toLowerCase() === 'active';

/** The hooks one transition runs, in order. Pure. */
export function hooksFor(transition: RoleTransition, spec: HooksSpec): Array<{ kind: HookKind; command: string }> {
  const hooks: Array<{ kind: HookKind; command: string }> = [];
  const becameActive = isActive(transition.to) && !isActive(transition.from);
  const leftActive = isActive(transition.from) && !isActive(transition.to);
  if (becameActive && spec.activeCmd) hooks.push({ kind: 'active', command: spec.activeCmd });
  if (leftActive && spec.inactiveCmd) hooks.push({ kind: 'inactive', command: spec.inactiveCmd });
  if (spec.notify) hooks.push({ kind: 'notify', command: spec.notify });
  return hooks;
}

/** The environment a hook gets (on top of the daemon's). Pure. */
export function hookEnvironment(
  kind: HookKind,
  transition: RoleTransition,
  sequence: number,
  identity: HookIdentity,
): Record<string, string> {
  return {
    TANDEM_HOOK: kind,
    TANDEM_ROLE: transition.to.toLowerCase(),
    TANDEM_PREVIOUS_ROLE: transition.from.toLowerCase(),
    TANDEM_REASON: transition.reason,
    TANDEM_ADDRESSES: transition.addresses.join(' '),
    TANDEM_CLUSTER: identity.cluster,
    TANDEM_NODE: identity.node,
    TANDEM_PEER: transition.peer ?? '',
    TANDEM_TERM: transition.term === undefined ? '' : String(transition.term),
    TANDEM_TRANSITION: String(sequence),
    TANDEM_TIME: new Date(transition.at).toISOString(),
  };
}

/** Hooks waiting to run, and the one running. */
export interface HookQueue {
  running?: HookJob;
  waiting: HookJob[];
}

export interface QueueStep {
  queue: HookQueue;
  /** The job to start now, if the queue was idle. */
  start?: HookJob;
}

function startNext(waiting: HookJob[]): QueueStep {
  const [next, ...rest] = waiting;
  return next ? { queue: { running: next, waiting: rest }, start: next } : { queue: { waiting: rest } };
}

/** Appends jobs; starts the first one if nothing is running. Pure. */
export function enqueue(queue: HookQueue, jobs: HookJob[]): QueueStep {
  const waiting = [...queue.waiting, ...jobs];
  return queue.running ? { queue: { running: queue.running, waiting } } : startNext(waiting);
}

/** The running job ended; starts the next. Pure. */
export function finish(queue: HookQueue): QueueStep {
  return startNext(queue.waiting);
}

export interface HookResult {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  durationMs: Milliseconds;
  /** The last few kilobytes of output, for the log. */
  stdout: string;
  stderr: string;
  /** Set when the hook could not be started at all. */
  error?: string;
}

export type HookExecutor = (job: HookJob, timeout: Milliseconds) => Promise<HookResult>;

export interface HookRunnerOptions {
  spec: HooksSpec;
  identity: HookIdentity;
  logger: Logger;
  /** Runs one hook; the default runs it with /bin/sh (runHookProcess). */
  execute?: HookExecutor;
  /** Where runs, failures and timeouts are counted; default: counters of its own. */
  stats?: HookStats;
}

/** Feeds transitions into the queue and runs the hooks; never throws, never blocks. */
export class HookRunner {
  private queue: HookQueue = { waiting: [] };
  private transitions = 0;
  private readonly logger: Logger;
  private readonly execute: HookExecutor;
  private readonly stats: HookStats;
  private readonly idleWaiters: Array<() => void> = [];
  private spec: HooksSpec;

  constructor(private readonly options: HookRunnerOptions) {
    this.logger = options.logger.child({ component: 'hooks' });
    this.execute = options.execute ?? runHookProcess;
    this.stats = options.stats ?? createStats().hooks;
    this.spec = options.spec;
  }

  /** A reloaded configuration: later transitions run these hooks; queued ones keep theirs. */
  setSpec(spec: HooksSpec): void {
    this.spec = spec;
  }

  /** Queues the hooks of this transition. */
  transition(transition: RoleTransition): void {
    const sequence = ++this.transitions;
    const jobs = hooksFor(transition, this.spec).map(({ kind, command }) => ({
      transition: sequence,
      kind,
      command,
      env: hookEnvironment(kind, transition, sequence, this.options.identity),
    }));
    this.step(enqueue(this.queue, jobs));
  }

  /** Hooks queued or running. */
  get pending(): number {
    return this.queue.waiting.length + (this.queue.running ? 1 : 0);
  }

  /** Resolves once every queued hook has run (graceful stop). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Waits for the queued hooks at most as long as they may take (each its timeout
   * and the kill grace), for a graceful stop; resolves with how many did not finish.
   */
  async drain(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.pending * (this.spec.timeout + KILL_GRACE))));
    await Promise.race([this.idle(), bound]);
    clearTimeout(timer);
    return this.pending;
  }

  private step({ queue, start }: QueueStep): void {
    this.queue = queue;
    if (start) {
      void this.run(start);
    } else if (!queue.running) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(job: HookJob): Promise<void> {
    const context = { hook: job.kind, transition: job.transition, role: job.env.TANDEM_ROLE, from: job.env.TANDEM_PREVIOUS_ROLE };
    this.logger.info(
      { event: 'hook.start', ...context, command: job.command, queued: this.queue.waiting.length },
      `running ${job.kind} hook`,
    );
    const { timeout } = this.spec;
    let result: HookResult;
    try {
      result = await this.execute(job, timeout);
    } catch (error) {
      result = { timedOut: false, durationMs: 0, stdout: '', stderr: '', error: (error as Error).message };
    }
    const failed = result.error !== undefined || result.timedOut || result.exitCode !== 0;
    this.stats.run.inc({ hook: job.kind });
    if (failed) this.stats.failed.inc({ hook: job.kind });
    if (result.timedOut) this.stats.timedOut.inc({ hook: job.kind });
    this.logger[failed ? 'warn' : 'info'](
      { event: 'hook.exit', ...context, ...result },
      result.timedOut
        ? `${job.kind} hook timed out after ${timeout} ms`
        : result.error !== undefined
          ? `${job.kind} hook could not run: ${result.error}`
          : `${job.kind} hook exited with ${result.exitCode ?? result.signal}`,
    );
    this.step(finish(this.queue));
  }
}

const OUTPUT_TAIL = 4096;
/** After the timeout's SIGTERM, how long a hook may take to exit before SIGKILL. */
const KILL_GRACE: Milliseconds = 2000;

function tail(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-OUTPUT_TAIL);
  });
  return () => text.trimEnd();
}

/**
 * Runs a hook with /bin/sh in a process group of its own. Done when the shell exits
 * (not when its output closes: a hook may leave a daemon running that inherited it).
 * On timeout the whole group gets SIGTERM, then SIGKILL once the shell has exited or
 * after a grace period.
 */
export const runHookProcess: HookExecutor = (job, timeout) => {
  const started = performance.now();
  // child_process rather than execa: execa's hundred-odd modules stayed in every daemon's memory
  const subprocess = spawn('/bin/sh', ['-c', job.command], {
    env: { ...process.env, ...job.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stdout = tail(subprocess.stdout);
  const stderr = tail(subprocess.stderr);
  return new Promise<HookResult>((resolve) => {
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalProcessGroup(subprocess.pid, 'SIGTERM');
      killer = setTimeout(() => signalProcessGroup(subprocess.pid, 'SIGKILL'), KILL_GRACE);
    }, timeout);
    const done = (outcome: Partial<HookResult>) => {
      clearTimeout(timer);
      clearTimeout(killer);
      // what a timed-out hook left behind goes with it
      if (timedOut) signalProcessGroup(subprocess.pid, 'SIGKILL');
      resolve({ timedOut, durationMs: Math.round(performance.now() - started), stdout: stdout(), stderr: stderr(), ...outcome });
    };
    subprocess.once('error', (error) => done({ error: error.message }));
    subprocess.once('exit', (code, signal) => done(code === null ? { signal: signal ?? 'unknown' } : { exitCode: code }));
  });
};
