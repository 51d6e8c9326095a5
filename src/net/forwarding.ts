// LVS-NAT rewrites the real servers' replies on their way back through the director,
// which the kernel only does with IP forwarding on. Claiming the NAT gateway on a node
// that does not forward would black-hole every reply, so the claim is refused instead
// (or forwarding is switched on when the configuration allows it).
import type { IpFamily, Model } from '../config/model.js';
import type { Logger } from '../log.js';
import { readSysctl, writeSysctl } from './sysctl.js';

export class ForwardingError extends Error {
  override readonly name = 'ForwardingError';
}

export interface ForwardingSetting {
  family: IpFamily;
  /** The dotted name an operator types (`sysctl net.ipv4.ip_forward`). */
  name: string;
  path: string[];
}

const SETTINGS: Record<IpFamily, ForwardingSetting> = {
  4: { family: 4, name: 'net.ipv4.ip_forward', path: ['net', 'ipv4', 'ip_forward'] },
  6: { family: 6, name: 'net.ipv6.conf.all.forwarding', path: ['net', 'ipv6', 'conf', 'all', 'forwarding'] },
};

/** The forwarding settings a configuration needs: those of NAT traffic (`network nat`, masq real servers). */
export function forwardingSettings(model: Pick<Model, 'network' | 'natRouter' | 'virtualServices'>): ForwardingSetting[] {
  const families = new Set<IpFamily>();
  if (model.natRouter) families.add(model.natRouter.family);
  for (const service of model.virtualServices) {
    if (!service.active) continue;
    for (const server of service.realServers) {
      if (server.active && server.forwarding === 'masq') families.add(server.family);
    }
  }
  if (model.network === 'nat' && families.size === 0) families.add(4);
  return [...families].sort().map((family) => SETTINGS[family]);
}

/**
 * Makes sure the host forwards what the configuration needs before addresses are
 * claimed: sets the switch when `enableForwarding` allows it, else throws a
 * ForwardingError saying what to change. Runs in this process's network namespace.
 */
export function checkForwarding(
  model: Pick<Model, 'network' | 'natRouter' | 'virtualServices' | 'enableForwarding'>,
  logger: Logger,
): void {
  for (const setting of forwardingSettings(model)) {
    if (readSysctl(setting.path) === '1') continue;
    if (!model.enableForwarding) {
      throw new ForwardingError(
        `${setting.name} is 0, but NAT forwarding sends the real servers' replies through this director: ` +
          `refusing to claim. Set ${setting.name}=1 (sysctl -w, and in /etc/sysctl.d/ to keep it), ` +
          `or let tandem set it with enable_forwarding in the configuration.`,
      );
    }
    writeSysctl(setting.path, '1');
    logger.child({ component: 'forwarding' }).warn({ event: 'forwarding.enabled', sysctl: setting.name }, `set ${setting.name}=1 for NAT`);
  }
}
