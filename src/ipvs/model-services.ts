// The model's virtual services by the kernel's identity, and which of them a reload
// changed: a reload that touches a few services reconciles only those. Pure, with a
// return to the event loop now and then (a model may hold 100,000 services).
import type { Model, VirtualService } from '../config/model.js';
import { samePlainData } from '../lib/plain-data.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { forEachInChunks } from './chunks.js';
import { identityOfVirtualService } from './desired.js';
import { serviceKey, type ServiceIdentity } from './table.js';

/** The model's services by IPVS key, the first of each (as the desired table takes them); a
 *  ShardedMap, as a Map of 100,000 rehashes for 5–12 ms when it doubles. */
export async function servicesByKey(model: Model): Promise<ReadonlyMap<string, VirtualService>> {
  const services = new ShardedMap<VirtualService>();
  await forEachInChunks(model.virtualServices, 1000, (service) => {
    const key = serviceKey(identityOfVirtualService(service));
    if (!services.has(key)) services.set(key, service);
  });
  return services;
}

/** The services added, removed or changed in anything (servers, weights, scheduler, flags,
 *  checks…) from `before` to `after` (servicesByKey of each model), with their identity. */
export async function changedServices(
  before: ReadonlyMap<string, VirtualService>,
  after: ReadonlyMap<string, VirtualService>,
): Promise<Map<string, ServiceIdentity>> {
  const changed = new Map<string, ServiceIdentity>();
  await forEachInChunks(after, 1000, ([key, service]) => {
    const previous = before.get(key);
    if (previous === undefined || !samePlainData(previous, service)) changed.set(key, identityOfVirtualService(service));
  });
  await forEachInChunks(before, 1000, ([key, service]) => {
    if (!after.has(key)) changed.set(key, identityOfVirtualService(service));
  });
  return changed;
}
