// The messages between the event loop and the balancer's thread (balancer-thread.ts and
// balancer-worker.ts). The model goes over as model-transfer.ts sends it, before the call
// that uses it; each call gets one answer with its id. Status comes back a slice of
// services at a time as JSON text, each slice asked for as the control socket writes the
// last one: messages that arrive together are handled in one turn of the event loop, and
// 100,000 services at once would hold it.
import type { SyncRole } from '../cluster/index.js';
import type { NodeSpec } from '../config/model.js';
import type { GroupValues } from '../lib/counters.js';
import type { BalancerStatus } from './balancer.js';
import type { IpvsBalancerOptions } from './ipvs-balancer.js';
import type { ModelMessage } from './model-transfer.js';

/** What the thread's IpvsBalancer is started with besides the model: the plain-data options. */
export type BalancerThreadSettings = Pick<IpvsBalancerOptions, 'repairInterval' | 'retryDelay' | 'openRetryDelay' | 'healthBatch'>;

export type BalancerCall =
  /** Starts the balancer with the model received so far. `parts`: the URL of a module that
   *  exports openKernel and runCheck in place of the kernel's IPVS and real checks (tests, benchmarks). */
  | { type: 'create'; id: number; self: NodeSpec; logLevel: string; settings: BalancerThreadSettings; parts?: string }
  | { type: 'activate' | 'deactivate' | 'reload' | 'close'; id: number }
  | { type: 'sync-role'; id: number; role: SyncRole }
  | { type: 'status'; id: number }
  /** The next slice of the services of the status asked for as `of`. */
  | { type: 'status-next'; id: number; of: number }
  /** The services of the status asked for as `of` are not read further: the thread lets them go. */
  | { type: 'status-drop'; id: number; of: number };

export type BalancerRequest = ModelMessage | BalancerCall;

export type BalancerAnswer =
  | { type: 'done'; id: number }
  /** `head`: the status without its services, and `services`: how many it has (absent: the
   *  table could not be read), in the first slice only. `rows`: services, each JSON, joined by commas. */
  | { type: 'status'; id: number; head?: Omit<BalancerStatus, 'services'>; services?: number; rows: string; last: boolean }
  | { type: 'failed'; id: number; message: string }
  /** Log lines, as pino wrote them on the thread. */
  | { type: 'logs'; lines: string[] }
  /** What the thread counted since it last said, by area of the registry. */
  | { type: 'counted'; ipvs?: GroupValues; health?: GroupValues };

/** Status services per slice: about 70 kB of text. */
export const statusServicesPerSlice = 100;
