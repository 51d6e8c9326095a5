// An in-memory IPVS table with the kernel's refusals (EEXIST, ESRCH, ENOENT), for unit
// tests of reconciling. The real kernel is exercised by the VM tier (test/ipvs).
import type { IpvsDriver, IpvsOperation, OperationFailure } from '../../src/ipvs/operations.js';
import { destinationKey, serviceKey, type IpvsDestination, type IpvsService, type ServiceIdentity } from '../../src/ipvs/table.js';

export class MemoryIpvs implements IpvsDriver {
  readonly services = new Map<string, IpvsService>();
  readonly calls = { listServices: 0, getService: 0, listDestinations: 0, apply: 0, operations: 0 };
  /** Makes matching operations fail as the kernel would refuse them. */
  refuse?: (operation: IpvsOperation) => string | undefined;

  constructor(initial: IpvsService[] = []) {
    for (const service of initial) this.services.set(serviceKey(service), structuredClone(service));
  }

  listServices(): Promise<IpvsService[]> {
    this.calls.listServices++;
    return Promise.resolve([...this.services.values()].map((service) => ({ ...service, destinations: [] })));
  }

  getService(service: ServiceIdentity): Promise<IpvsService | undefined> {
    this.calls.getService++;
    const found = this.services.get(serviceKey(service));
    return Promise.resolve(found && { ...found, destinations: [] });
  }

  listDestinations(service: ServiceIdentity): Promise<IpvsDestination[]> {
    this.calls.listDestinations++;
    return Promise.resolve((this.services.get(serviceKey(service))?.destinations ?? []).map((destination) => ({ ...destination })));
  }

  /** One service after another through listDestinations, which tests count and delay. */
  async listDestinationsOf(services: readonly ServiceIdentity[]): Promise<IpvsDestination[][]> {
    const lists: IpvsDestination[][] = [];
    for (const service of services) lists.push(await this.listDestinations(service));
    return lists;
  }

  apply(operations: readonly IpvsOperation[]): Promise<OperationFailure[]> {
    this.calls.apply++;
    const failures: OperationFailure[] = [];
    for (const operation of operations) {
      this.calls.operations++;
      const refusal = this.refuse?.(operation) ?? this.perform(operation);
      if (refusal) failures.push({ operation, error: new Error(`${operation.kind}: ${refusal}`) });
    }
    return Promise.resolve(failures);
  }

  /** The table as plain data, services and destinations in key order. */
  snapshot(): IpvsService[] {
    return [...this.services.values()]
      .map((service) => ({
        ...structuredClone(service),
        destinations: [...service.destinations].sort((a, b) => destinationKey(a).localeCompare(destinationKey(b))),
      }))
      .sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
  }

  private perform(operation: IpvsOperation): string | undefined {
    const key = serviceKey(operation.service);
    const service = this.services.get(key);
    if (operation.kind === 'add-service') {
      if (service) return 'EEXIST';
      this.services.set(key, { ...structuredClone(operation.service), destinations: [] });
      return undefined;
    }
    if (!service) return 'ESRCH';
    if (operation.kind === 'edit-service') {
      this.services.set(key, { ...structuredClone(operation.service), destinations: service.destinations });
      return undefined;
    }
    if (operation.kind === 'delete-service') {
      this.services.delete(key);
      return undefined;
    }
    const index = service.destinations.findIndex((d) => destinationKey(d) === destinationKey(operation.destination));
    switch (operation.kind) {
      case 'add-destination':
        if (index >= 0) return 'EEXIST';
        service.destinations.push(structuredClone(operation.destination));
        return undefined;
      case 'edit-destination':
        if (index < 0) return 'ENOENT';
        service.destinations[index] = structuredClone(operation.destination);
        return undefined;
      case 'delete-destination':
        if (index < 0) return 'ENOENT';
        service.destinations.splice(index, 1);
        return undefined;
    }
  }
}
