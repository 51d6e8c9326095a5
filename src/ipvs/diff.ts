// The operations that turn the kernel's table into the desired one. Pure.
//
// Minimal and ordered: a service is added before its destinations; a changed service
// or destination is edited in place (never deleted and re-added, which would cut its
// connections); within a service new destinations come first and removals last, so
// it is never left empty in between (e.g. a real server returning while the sorry
// server leaves); whole services are deleted after everything else.
import type { IpvsOperation } from './operations.js';
import { destinationKey, serviceKey, type IpvsDestination, type IpvsService } from './table.js';

/** `actual` is the kernel's service with its destinations (undefined: not there). */
export function diffService(actual: IpvsService | undefined, desired: IpvsService | undefined): IpvsOperation[] {
  if (!desired) return actual ? [{ kind: 'delete-service', service: actual }] : [];
  if (!actual) {
    return [
      { kind: 'add-service', service: desired },
      ...desired.destinations.map((destination): IpvsOperation => ({ kind: 'add-destination', service: desired, destination })),
    ];
  }
  const operations: IpvsOperation[] = [];
  if (!sameServiceSettings(actual, desired)) operations.push({ kind: 'edit-service', service: desired });
  const { matches, unmatched } = pairDestinations(actual.destinations, desired.destinations);
  const edits: IpvsOperation[] = [];
  desired.destinations.forEach((destination, index) => {
    const existing = matches[index];
    if (!existing) operations.push({ kind: 'add-destination', service: desired, destination });
    else if (!sameDestinationSettings(existing, destination)) edits.push({ kind: 'edit-destination', service: desired, destination });
  });
  operations.push(...edits);
  for (const destination of unmatched) operations.push({ kind: 'delete-destination', service: desired, destination });
  return operations;
}

/** Some of the kernel's services by key (undefined: not there), as a reconcile reads them a chunk at a time. */
export type KernelChunk = ReadonlyArray<readonly [string, IpvsService | undefined]>;

/** The operations that make a chunk of the kernel's services what `wanted` (by key) has. */
export function diffChunk(chunk: KernelChunk, wanted: { get(key: string): IpvsService | undefined }): IpvsOperation[] {
  const operations: IpvsOperation[] = [];
  for (const [key, actual] of chunk) operations.push(...diffService(actual, wanted.get(key)));
  return operations;
}

/** Above this many comparisons, destinations are paired by key rather than by a scan. */
const SCAN_LIMIT = 64;

/** For each desired destination, the kernel's at the same address and port (each kernel
 *  destination pairs once); and the kernel's left unpaired, in their order. A table of
 *  100,000 services has a few destinations each: scanning them costs less than keys. */
function pairDestinations(
  actual: readonly IpvsDestination[],
  desired: readonly IpvsDestination[],
): { matches: Array<IpvsDestination | undefined>; unmatched: IpvsDestination[] } {
  if (actual.length * desired.length > SCAN_LIMIT) {
    const current = new Map(actual.map((destination) => [destinationKey(destination), destination]));
    const matches = desired.map((destination) => {
      const key = destinationKey(destination);
      const found = current.get(key);
      current.delete(key);
      return found;
    });
    return { matches, unmatched: [...current.values()] };
  }
  const paired = actual.map(() => false);
  const matches = desired.map((destination) => {
    const index = actual.findIndex((candidate, i) => !paired[i] && sameEndpoint(candidate, destination));
    if (index < 0) return undefined;
    paired[index] = true;
    return actual[index];
  });
  return { matches, unmatched: actual.filter((_, i) => !paired[i]) };
}

/** What destinationKey compares, without building the keys. */
function sameEndpoint(a: IpvsDestination, b: IpvsDestination): boolean {
  return a.port === b.port && a.address === b.address && a.family === b.family;
}

/** The whole table. `actual` services that `isOwned` accepts need their destinations;
 *  the others are left alone whatever they contain. */
export function diffTables(
  actual: readonly IpvsService[],
  desired: readonly IpvsService[],
  isOwned: (key: string) => boolean,
): IpvsOperation[] {
  const current = new Map(actual.map((service) => [serviceKey(service), service]));
  const operations: IpvsOperation[] = [];
  const deletions: IpvsOperation[] = [];
  for (const service of desired) {
    const key = serviceKey(service);
    operations.push(...diffService(current.get(key), service));
    current.delete(key);
  }
  for (const [key, service] of current) {
    if (isOwned(key)) deletions.push(...diffService(service, undefined));
  }
  return [...operations, ...deletions];
}

export function sameServiceSettings(actual: IpvsService, desired: IpvsService): boolean {
  return (
    actual.scheduler === desired.scheduler &&
    actual.onePacket === desired.onePacket &&
    actual.schedulerFlags === desired.schedulerFlags &&
    actual.persistenceEngine === desired.persistenceEngine &&
    actual.persistence?.timeout === desired.persistence?.timeout &&
    actual.persistence?.netmask === desired.persistence?.netmask
  );
}

export function sameDestinationSettings(actual: IpvsDestination, desired: IpvsDestination): boolean {
  return (
    actual.weight === desired.weight &&
    actual.upperThreshold === desired.upperThreshold &&
    actual.lowerThreshold === desired.lowerThreshold &&
    // The kernel reports `local` on its own for a destination on one of its addresses.
    (actual.forwarding === desired.forwarding || actual.forwarding === 'local') &&
    sameTunnel(actual, desired)
  );
}

/** A kernel that reports no tunnel type (before 5.3) tunnels with IPIP whatever it is
 *  asked: editing would change nothing, again and again. */
function sameTunnel(actual: IpvsDestination, desired: IpvsDestination): boolean {
  if (actual.forwarding !== 'ipip' || actual.tunnelType === undefined) return true;
  return (
    actual.tunnelType === (desired.tunnelType ?? 'ipip') &&
    (actual.tunnelPort ?? 0) === (desired.tunnelPort ?? 0) &&
    (actual.tunnelChecksum ?? 'none') === (desired.tunnelChecksum ?? 'none')
  );
}
