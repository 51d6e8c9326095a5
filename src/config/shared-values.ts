// The model of a big table arriving from the loader's worker holds the same few values
// once per service or server: the scheduler, the protocol, the forwarding method and the
// health check settings (100,000 services × 2 servers carried 100,000 copies of each
// spec and 200,000 of "masq"). Equal values are made one, as the services come in.
import type { HealthCheckSpec, VirtualService } from './model.js';

/** One of each equal value for the services given to `share`. Nothing downstream changes
 *  a model's values in place (a reload brings a new model), so sharing them is safe. */
export class SharedValues {
  private readonly strings = new Map<string, string>();
  /** By the settings as JSON. */
  private readonly healthChecks = new Map<string, HealthCheckSpec>();

  /** Replaces `service`'s repeated values with the shared ones; returns it. */
  share(service: VirtualService): VirtualService {
    service.protocol = this.string(service.protocol);
    service.scheduler = this.string(service.scheduler);
    service.healthCheck = this.healthCheck(service.healthCheck);
    for (const server of service.realServers) server.forwarding = this.string(server.forwarding);
    return service;
  }

  private string<T extends string>(value: T): T {
    const shared = this.strings.get(value);
    if (shared !== undefined) return shared as T;
    this.strings.set(value, value);
    return value;
  }

  private healthCheck(spec: HealthCheckSpec): HealthCheckSpec {
    const signature = JSON.stringify(spec);
    const shared = this.healthChecks.get(signature);
    if (shared) return shared;
    this.healthChecks.set(signature, spec);
    return spec;
  }
}
