// The whole IPVS table as the table planner's thread builds it (table-worker.ts hosts this;
// table-thread.ts drives it from the event loop): a copy of the model, the desired table for
// a role and the real servers' health, and the diff of the kernel's services against it.
// Pure. The health comes as the servers that differ from their configured weight, found by
// their place in the model: at a claim none do, and the event loop sends no table of them.
import type { HealthView, RealServer, VirtualService } from '../config/model.js';
import { desiredTable, type DesiredTable, type IpvsRole } from './desired.js';
import { ModelCopy } from './model-transfer.js';

/** Health as the monitor reports a server it has not checked: up at its configured weight. */
export const configuredHealth: HealthView = (service, server) =>
  service.active && server.active ? { up: true, weight: server.weight } : { up: false, weight: 0 };

/** Servers whose health differs from configuredHealth, four numbers each: the service's
 *  index in the model, the server's in the service, up (1 or 0) and the weight. */
export type HealthDeviations = number[];

/** The deviations of one service (at `index` in the model) under `health`, appended to `into`. */
export function addDeviations(into: HealthDeviations, index: number, service: VirtualService, health: HealthView): void {
  service.realServers.forEach((server, serverIndex) => {
    const state = health(service, server);
    const configured = configuredHealth(service, server);
    if (state.up !== configured.up || state.weight !== configured.weight) into.push(index, serverIndex, state.up ? 1 : 0, state.weight);
  });
}

export class TablePlan {
  /** The model, as the event loop sends it. */
  readonly copy = new ModelCopy();

  /** The desired table of the model for `role`, with the health `deviations` describe. */
  desire(role: IpvsRole, deviations: HealthDeviations): DesiredTable {
    const { model } = this.copy;
    if (role === 'inactive') return desiredTable(model, { role });
    const states = new Map<RealServer, { up: boolean; weight: number }>();
    for (let at = 0; at + 3 < deviations.length; at += 4) {
      const [index, serverIndex, up, weight] = deviations.slice(at, at + 4) as [number, number, number, number];
      const server = model.virtualServices[index]?.realServers[serverIndex];
      if (!server) throw new Error(`no real server ${serverIndex} in virtual service ${index} of the planner's model`);
      states.set(server, { up: up === 1, weight });
    }
    return desiredTable(model, { role, health: (service, server) => states.get(server) ?? configuredHealth(service, server) });
  }
}
