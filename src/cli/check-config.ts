// `tandem check-config FILE [--node NAME] [--json]`: validates a configuration and
// shows what tandem will do with it — the inputs of the election, the addresses it
// claims, the services and real servers — or (--json) the normalised model.
import type { Command } from 'commander';
import {
  defaultRealServerName,
  formatNames,
  ipvsSyncOverChannel,
  resolveLocalNode,
  systemHostAddresses,
  systemHostname,
  type ClaimedAddress,
  type ConfigFormat,
  type LoadResult,
  type Model,
  type VirtualService,
} from '../config/index.js';
import { formatConfigDuration } from '../lib/duration.js';
import type { CommandModule } from './command.js';
import { formatOption, loadForCommand } from './config-input.js';

interface CheckOptions {
  node?: string;
  json?: boolean;
  format?: ConfigFormat;
}

export const checkConfigCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('check-config')
      .description('validate a configuration file and summarise it')
      .argument('<file>', 'configuration file (tandem.yaml, lvs.cf, ipvsadm rules, lvs.conf, keepalived.conf or ldirectord.cf)')
      .option('--node <name>', 'the node this host is; also checks the configuration against this host')
      .option('--json', 'print the normalised model as JSON')
      .addOption(formatOption())
      .action(async (file: string, options: CheckOptions) => {
        const loaded = await loadForCommand(file, options);
        if (loaded === undefined) return;
        process.stdout.write(options.json === true ? `${JSON.stringify(loaded.model, null, 2)}\n` : summary(file, loaded, options.node));
      });
  },
};

/** What check-config prints for a valid file. */
export function summary(file: string, { model, format, warnings }: LoadResult, node: string | undefined): string {
  const lines: string[] = [];
  const warningNote = warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '';
  lines.push(`${file}: valid ${formatNames[format]}${warningNote}`);
  const row = (label: string, text: string): number => lines.push(`${label.padEnd(10)}${text}`);
  row('cluster', `${model.cluster}, serial ${model.serialNo}`);
  const self = thisNode(model, node);
  if (model.nodes.length === 0) row('nodes', `none: a standalone director (${self})`);
  model.nodes.forEach((spec, index) => {
    const marks = [spec.privateAddress !== undefined ? `private ${spec.privateAddress}` : '', self === spec.name ? 'this host' : ''].filter(
      Boolean,
    );
    row(
      index === 0 ? 'nodes' : '',
      `${spec.name} ${spec.address} priority ${spec.priority}${marks.length > 0 ? ` (${marks.join(', ')})` : ''}`,
    );
  });
  if (model.nodes.length > 0 && !model.nodes.some((spec) => spec.name === self)) row('', `this host: ${self}`);
  const { heartbeat } = model;
  row(
    'election',
    `${model.preempt ? 'preemptive' : 'no preemption'}; heartbeat udp/${heartbeat.port} every ${formatConfigDuration(heartbeat.keepalive)}, ` +
      `dead after ${formatConfigDuration(heartbeat.deadtime)} (late after ${formatConfigDuration(heartbeat.warntime)}, ${formatConfigDuration(heartbeat.initdead)} at start)`,
  );
  row('auth', `key id ${model.auth.keyId} from ${model.auth.keyFile}`);
  row(
    'links',
    model.monitorLinks.enabled
      ? `monitored${model.monitorLinks.interfaces.length > 0 ? ` (also ${model.monitorLinks.interfaces.join(', ')})` : ''}`
      : 'not monitored',
  );
  row(
    'sync',
    ipvsSyncOverChannel(model.sync)
      ? `on, over tandem's channel, udp/${model.sync.port}`
      : model.sync.enabled
        ? `on, kernel daemons, id ${model.sync.syncId}, udp/${model.sync.port}${model.sync.interface !== undefined ? ` via ${model.sync.interface}` : ''}`
        : 'off',
  );
  row('network', `${model.network}${model.natRouter !== undefined ? `; NAT gateway ${claimed(model.natRouter)}` : ''}`);
  const vips = [...new Map(model.virtualServices.flatMap((s) => (s.vip !== undefined ? [[claimed(s.vip), true] as const] : []))).keys()];
  row('VIPs', vips.length > 0 ? vips.join(', ') : 'none');
  const servers = model.virtualServices.reduce((count, s) => count + s.realServers.length, 0);
  row(
    'services',
    `${model.virtualServices.length} virtual service${model.virtualServices.length === 1 ? '' : 's'}, ${servers} real server${servers === 1 ? '' : 's'}`,
  );
  for (const service of model.virtualServices) {
    lines.push(`  ${service.name}: ${describeService(service)}`);
    for (const server of service.realServers) {
      const port = server.port !== 0 ? server.port : service.port;
      const flags = [server.active ? '' : 'inactive', server.upperThreshold > 0 ? `max ${server.upperThreshold} connections` : ''].filter(
        Boolean,
      );
      lines.push(
        `    ${server.name}: ${defaultRealServerName(server.address, port)} ${server.forwarding} weight ${server.weight}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function thisNode(model: Model, node: string | undefined): string {
  try {
    return resolveLocalNode(model, {
      ...(node !== undefined ? { node } : {}),
      hostAddresses: systemHostAddresses().map((a) => a.address),
      hostname: systemHostname(),
    }).self.name;
  } catch (error) {
    return `not determined: ${(error as Error).message}`;
  }
}

function claimed(address: ClaimedAddress): string {
  const where = address.device !== undefined ? ` on ${address.device}${address.label !== undefined ? ` (${address.label})` : ''}` : '';
  return `${address.address}/${address.prefix}${where}`;
}

function describeService(service: VirtualService): string {
  const parts: string[] = [];
  if (service.fwmark !== undefined) parts.push(`fwmark ${service.fwmark}${service.vip !== undefined ? ` on ${service.vip.address}` : ''}`);
  else if (service.vip !== undefined)
    parts.push(
      `${service.protocol} ${service.vip.address.includes(':') ? `[${service.vip.address}]` : service.vip.address}:${service.port}`,
    );
  parts.push(service.scheduler);
  if (service.persistence !== undefined)
    parts.push(
      `persistent ${formatConfigDuration(service.persistence.timeout * 1000)}${service.persistence.netmask !== undefined ? ` per ${service.persistence.netmask}` : ''}`,
    );
  const check = service.healthCheck;
  parts.push(check.kind === 'none' ? 'not checked' : `${check.kind} check every ${formatConfigDuration(check.interval)}`);
  if (service.sorryServer !== undefined) parts.push(`sorry server ${service.sorryServer.address}`);
  if (!service.active) parts.push('inactive');
  return parts.join(', ');
}
