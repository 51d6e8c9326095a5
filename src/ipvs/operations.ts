// The changes tandem makes to the kernel's IPVS table, and the contract of whatever
// applies them (the generic netlink driver; an in-memory table in unit tests).
import { formatEndpoint } from '../lib/address.js';
import { describeService, schedulerFlagNames, type IpvsDestination, type IpvsService, type ServiceIdentity } from './table.js';

export type IpvsOperation =
  | { kind: 'add-service'; service: IpvsService }
  | { kind: 'edit-service'; service: IpvsService }
  | { kind: 'delete-service'; service: ServiceIdentity }
  | { kind: 'add-destination'; service: ServiceIdentity; destination: IpvsDestination }
  | { kind: 'edit-destination'; service: ServiceIdentity; destination: IpvsDestination }
  | { kind: 'delete-destination'; service: ServiceIdentity; destination: IpvsDestination };

export interface OperationFailure {
  operation: IpvsOperation;
  error: Error;
}

/** What reconciling needs from the kernel: read services and destinations, apply changes. */
export interface IpvsDriver {
  /** Every service, without destinations. */
  listServices(): Promise<IpvsService[]>;
  /** One service (without destinations), or undefined when the kernel has none such. */
  getService(service: ServiceIdentity): Promise<IpvsService | undefined>;
  listDestinations(service: ServiceIdentity): Promise<IpvsDestination[]>;
  /** The destinations of each service, in the same order: one call for many services. */
  listDestinationsOf(services: readonly ServiceIdentity[]): Promise<IpvsDestination[][]>;
  /** Applies the operations in order; an operation that fails does not stop the ones after
   *  it. Resolves with the failures (empty when everything was applied). */
  apply(operations: readonly IpvsOperation[]): Promise<OperationFailure[]>;
}

function describeDestination(destination: IpvsDestination): string {
  return formatEndpoint(destination.address, destination.port, destination.family);
}

function destinationSettings(destination: IpvsDestination): string {
  const thresholds =
    destination.upperThreshold || destination.lowerThreshold
      ? `, thresholds ${destination.lowerThreshold}-${destination.upperThreshold}`
      : '';
  return `${destination.forwarding}${describeTunnel(destination)}, weight ${destination.weight}${thresholds}`;
}

/** ` gue port 6080 csum`; nothing for plain IPIP. */
function describeTunnel({ tunnelType, tunnelPort, tunnelChecksum }: IpvsDestination): string {
  if (tunnelType === undefined || tunnelType === 'ipip') return '';
  const checksum = tunnelChecksum !== undefined && tunnelChecksum !== 'none' ? ` ${tunnelChecksum}` : '';
  return ` ${tunnelType}${tunnelPort !== undefined ? ` port ${tunnelPort}` : ''}${checksum}`;
}

function serviceSettings(service: IpvsService): string {
  const flags = schedulerFlagNames(service);
  const persistence = service.persistence ? `, persistent ${service.persistence.timeout} s mask ${service.persistence.netmask}` : '';
  return (
    `${service.scheduler}${flags ? ` (${flags})` : ''}${persistence}` +
    `${service.persistenceEngine !== undefined ? `, engine ${service.persistenceEngine}` : ''}${service.onePacket ? ', one-packet' : ''}`
  );
}

/** e.g. `add destination 10.0.0.2:80 (masq, weight 1) to TCP 10.0.0.1:80`. */
export function describeOperation(operation: IpvsOperation): string {
  const service = describeService(operation.service);
  switch (operation.kind) {
    case 'add-service':
      return `add service ${service} (${serviceSettings(operation.service)})`;
    case 'edit-service':
      return `edit service ${service} (${serviceSettings(operation.service)})`;
    case 'delete-service':
      return `delete service ${service}`;
    case 'add-destination':
      return `add destination ${describeDestination(operation.destination)} (${destinationSettings(operation.destination)}) to ${service}`;
    case 'edit-destination':
      return `edit destination ${describeDestination(operation.destination)} (${destinationSettings(operation.destination)}) of ${service}`;
    case 'delete-destination':
      return `delete destination ${describeDestination(operation.destination)} from ${service}`;
  }
}

/** Every service with its destinations (for status listings and `tandem ipvs --save`). */
export async function readTable(driver: IpvsDriver): Promise<IpvsService[]> {
  const services = await driver.listServices();
  const lists = await driver.listDestinationsOf(services);
  services.forEach((service, index) => (service.destinations = lists[index] ?? []));
  return services;
}
