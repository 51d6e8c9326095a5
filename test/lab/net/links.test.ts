// monitor_links: up/down events from rtnetlink notifications for a cable failing on
// the switch side (carrier lost) and for the link set down on the host itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkState } from '../../../src/net/index.js';
import type { Host, Lab } from '../../support/netns.js';
import { directorLab, type Agent, type AgentMessage } from './agent.js';

describe('link monitor (lab)', () => {
  let lab: Lab;
  let director: Host;
  let agent: Agent;
  let seen = 0;

  /** The next link event after the ones already checked. */
  async function nextEvent(): Promise<AgentMessage> {
    const index = seen++;
    await agent.waitForEvent(() => agent.events.length > index);
    return agent.events[index]!;
  }

  beforeAll(async () => {
    ({ lab, director, agent } = await directorLab({ eth0: ['192.0.2.1/24'], eth1: ['198.51.100.2/24'] }));
    await lab.setSwitchPort(director, 'eth1', false);
  });
  afterAll(async () => (lab as Lab | undefined)?.destroy());

  it('reports the initial state of every monitored device', async () => {
    const states = await agent.call<LinkState[]>('monitor', { devices: ['eth0', 'eth1', 'eth9'] });
    expect(states).toEqual([
      { device: 'eth0', up: true, condition: 'up' },
      { device: 'eth1', up: false, condition: 'no-carrier' },
      { device: 'eth9', up: false, condition: 'missing' },
    ]);
    expect([await nextEvent(), await nextEvent(), await nextEvent()].map((e) => [e.device, e.up, e.initial])).toEqual([
      ['eth0', true, true],
      ['eth1', false, true],
      ['eth9', false, true],
    ]);
  });

  it('sees the switch side of a cable go down and come back', async () => {
    await lab.setSwitchPort(director, 'eth0', false);
    expect(await nextEvent()).toMatchObject({ event: 'link', device: 'eth0', up: false, condition: 'no-carrier', initial: false });
    await lab.setSwitchPort(director, 'eth0', true);
    expect(await nextEvent()).toMatchObject({ device: 'eth0', up: true, condition: 'up' });
    await lab.setSwitchPort(director, 'eth1', true);
    expect(await nextEvent()).toMatchObject({ device: 'eth1', up: true, condition: 'up' });
  });

  it('sees the host set its link down and up', async () => {
    await lab.exec(director, 'ip', ['link', 'set', 'eth0', 'down']);
    expect(await nextEvent()).toMatchObject({ device: 'eth0', up: false, condition: 'admin-down' });
    await lab.exec(director, 'ip', ['link', 'set', 'eth0', 'up']);
    expect(await nextEvent()).toMatchObject({ device: 'eth0', up: true, condition: 'up' });
  });

  it('sees a monitored device appear and disappear', async () => {
    await lab.exec(director, 'ip', ['link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth9p']);
    await lab.exec(director, 'ip', ['link', 'set', 'eth9', 'up']);
    await lab.exec(director, 'ip', ['link', 'set', 'eth9p', 'up']);
    expect(await nextEvent()).toMatchObject({ device: 'eth9', up: true, condition: 'up' });
    await lab.exec(director, 'ip', ['link', 'del', 'eth9']);
    // the kernel closes a link before deleting it: the one up/down change is "down"
    expect(await nextEvent()).toMatchObject({ device: 'eth9', up: false });
  });

  it('reported nothing for devices it does not monitor, and nothing twice', () => {
    expect(agent.events).toHaveLength(seen);
  });
});
