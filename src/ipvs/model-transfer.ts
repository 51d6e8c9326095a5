// A model handed to a thread of its own (the table planner's, the balancer's): the model
// without its services, then the services a slice of the event loop's time at a time. After
// a reload only the services that changed go over: one equal to the service at its place in
// the model the thread has is sent as a count of those kept. The services go as themselves,
// serialised by postMessage outside the event loop's heap (as JSON they were 60 MB of strings
// there at 100,000 services, whose allocation V8 charged marking steps to), and the thread
// makes them JSON's compact objects again (see src/config/off-thread.ts).
import type { Model, VirtualService } from '../config/model.js';
import { samePlainData } from '../lib/plain-data.js';
import { TimeSlice } from '../lib/time-slice.js';

export type ModelMessage =
  /** A new model, without its services: the services messages that follow are its. */
  | { type: 'model'; head: Model }
  /** The next `kept` services are the previous model's at the same places, then `services`. */
  | { type: 'services'; kept: number; services: VirtualService[] };

/** Services per message: about a millisecond to serialise or deserialise on the event loop. */
export const servicesPerMessage = 100;

/**
 * Posts `model` for a thread that has `previous` (the services of the model it has, or none).
 * Stops when `wanted` turns false (a newer model, a thread that stopped): resolves whether
 * all was sent. A reload that changes one weight of 100,000 services sends one service, not
 * the 60 MB of JSON of them all.
 */
export async function sendModel(
  post: (message: ModelMessage) => void,
  model: Model,
  previous: readonly VirtualService[],
  wanted: () => boolean,
): Promise<boolean> {
  post({ type: 'model', head: { ...model, virtualServices: [] } });
  let kept = 0;
  let changed: VirtualService[] = [];
  const flush = () => {
    if (kept === 0 && changed.length === 0) return;
    post({ type: 'services', kept, services: changed });
    kept = 0;
    changed = [];
  };
  const slice = new TimeSlice();
  for (const [index, service] of model.virtualServices.entries()) {
    if (slice.spent) {
      flush();
      await slice.next();
    }
    if (!wanted()) return false;
    if (index < previous.length && samePlainData(previous[index], service)) {
      // kept services come before a message's JSON: a change ends the run
      if (changed.length > 0) flush();
      kept += 1;
    } else {
      changed.push(service);
      if (changed.length === servicesPerMessage) flush();
    }
  }
  flush();
  return true;
}

/** The receiving side: the model as its messages build it, sharing the services kept with the one before. */
export class ModelCopy {
  private current: Model | undefined;
  /** The services of the model before, which a services message may keep. */
  private previous: readonly VirtualService[] = [];

  receive(message: ModelMessage): void {
    if (message.type === 'model') {
      this.previous = this.current?.virtualServices ?? [];
      this.current = { ...message.head, virtualServices: [] };
    } else {
      // structured clone's objects keep most properties in a second array: JSON's do not
      this.addServices(JSON.parse(JSON.stringify(message.services)) as VirtualService[], message.kept);
    }
  }

  /** Appends the previous model's next `kept` services (those at the same places), then `services`. */
  addServices(services: readonly VirtualService[], kept = 0): void {
    const { virtualServices } = this.model;
    const from = virtualServices.length;
    if (kept > 0 && from + kept > this.previous.length)
      throw new Error(`the previous model has ${this.previous.length} services, not ${from + kept} to keep`);
    // one push per service: a spread of 100,000 would exceed the arguments a call can take
    for (const service of this.previous.slice(from, from + kept)) virtualServices.push(service);
    virtualServices.push(...services);
  }

  get model(): Model {
    if (!this.current) throw new Error('no model was received');
    return this.current;
  }
}
