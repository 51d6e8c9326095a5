// The messages between the event loop and the IPVS table planner's thread (table-thread.ts
// and table-worker.ts). The model goes over once per model, its services as JSON a slice at
// a time, except those a reload left as they were; each request with an id gets one answer
// with that id.
import type { IpvsRole } from './desired.js';
import type { KernelChunk } from './diff.js';
import type { ModelMessage } from './model-transfer.js';
import type { IpvsOperation } from './operations.js';
import type { TableSlice } from './reconcile.js';
import type { HealthDeviations } from './table-plan.js';

export type PlannerRequest =
  | ModelMessage
  /** Builds the desired table; answered with its first slice. */
  | { type: 'desire'; id: number; role: IpvsRole; deviations: HealthDeviations }
  | { type: 'next'; id: number }
  | { type: 'diff'; id: number; chunk: KernelChunk }
  /** The reconcile is over: the thread lets its desired table go. */
  | { type: 'done' };

export type PlannerAnswer =
  | ({ type: 'slice'; id: number; last: boolean } & TableSlice)
  | { type: 'operations'; id: number; operations: IpvsOperation[] }
  | { type: 'failed'; id: number; message: string };

/** Owned or wanted keys per slice from the thread: about a millisecond to deserialise on the event loop. */
export const keysPerSlice = 1000;
