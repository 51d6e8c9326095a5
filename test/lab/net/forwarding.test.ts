// The ip_forward check for network nat, against a namespace's own sysctl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import type { Host, Lab } from '../../support/netns.js';
import { directorLab, type Agent } from './agent.js';

const nat = {
  network: 'nat',
  natRouter: { address: '198.51.100.1', family: 4, prefix: 24, device: 'eth1' },
  virtualServices: [],
} as Partial<Model>;

describe('forwarding check (lab)', () => {
  let lab: Lab;
  let director: Host;
  let agent: Agent;
  const ipForward = async () => (await lab.exec(director, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim();

  beforeAll(async () => {
    ({ lab, director, agent } = await directorLab());
    await lab.exec(director, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  });
  afterAll(async () => (lab as Lab | undefined)?.destroy());

  it('refuses to claim with a clear error when forwarding is off', async () => {
    await expect(agent.call('checkForwarding', { model: { ...nat, enableForwarding: false } })).rejects.toThrow(
      /net\.ipv4\.ip_forward is 0.*refusing to claim.*enable_forwarding/,
    );
    expect(await ipForward()).toBe('0');
  });

  it('switches forwarding on when the configuration says so', async () => {
    await agent.call('checkForwarding', { model: { ...nat, enableForwarding: true } });
    expect(await ipForward()).toBe('1');
    expect(agent.logs.some((l) => l.includes('"event":"forwarding.enabled"'))).toBe(true);
  });

  it('accepts forwarding that is already on', async () => {
    await agent.call('checkForwarding', { model: { ...nat, enableForwarding: false } });
  });
});
