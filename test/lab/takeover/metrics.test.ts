// The metrics endpoint of two real directors, scraped inside their namespaces while
// `tandem failover` moves the active role: every documented metric is there, every scrape
// answers, and the role change shows in the role gauge and the transitions counter.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Director } from '../../support/director-pair.js';
import { requireRoot } from '../../support/netns.js';
import { documentedMetrics } from '../../support/readme.js';
import { TakeoverLab } from '../../support/takeover-lab.js';

const metricsPort = 9539;
/** Fetches the metrics inside the director's namespace (its loopback is its own). */
const scrapeScript = `fetch('http://127.0.0.1:${metricsPort}/metrics').then(async (r) => {
  if (!r.ok) throw new Error('HTTP ' + r.status);
  process.stdout.write(await r.text());
})`;

describe('metrics during a failover', () => {
  let lab: TakeoverLab;
  let active: Director;
  let backup: Director;

  const scrape = async (node: Director): Promise<string> =>
    (await lab.pair.lab.exec(node.host, process.execPath, ['--eval', scrapeScript])).stdout;
  const exported = (text: string) => [...text.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name);

  beforeEach(async () => {
    requireRoot();
    lab = await TakeoverLab.create({
      keepalive: '50ms',
      deadtime: '200ms',
      extraConfig: `metrics: { listen: 127.0.0.1:${metricsPort} }\n`,
    });
    await lab.pair.startBoth();
    [active, backup] = await lab.settled();
  });

  afterEach(async () => {
    await (lab as TakeoverLab | undefined)?.destroy();
  });

  it('finds every documented metric on both nodes, and the role change in them', async () => {
    for (const node of [active, backup]) expect(node.logs.items.some((e) => e.event === 'metrics.listening')).toBe(true);
    expect(await scrape(active)).toContain('tandem_role{role="ACTIVE"} 1');
    expect(await scrape(backup)).toContain('tandem_role{role="BACKUP"} 1');

    const failedOver = new AbortController();
    const during: Array<Promise<string>> = [];
    const loop = (async () => {
      while (!failedOver.signal.aborted) {
        during.push(scrape(active), scrape(backup));
        await Promise.all(during.slice(-2));
      }
    })();
    const result = await lab.pair.tandem(active, ['failover']);
    expect(result.code, result.stderr).toBe(0);
    await lab.pair.roleChange(backup, 'ACTIVE');
    failedOver.abort();
    await loop;
    expect((await Promise.all(during)).length).toBeGreaterThan(0);

    const documented = documentedMetrics();
    for (const node of [active, backup]) {
      const names = exported(await scrape(node));
      expect(
        documented.filter((name) => !names.includes(name)),
        node.name,
      ).toEqual([]);
    }
    const [oldActive, newActive] = [await scrape(active), await scrape(backup)];
    expect(newActive).toContain('tandem_role{role="ACTIVE"} 1');
    expect(newActive).toMatch(/^tandem_role_transitions_total\{from="BACKUP",to="ACTIVE",reason="[^"]+"\} 1$/m);
    expect(newActive).toMatch(/^tandem_addresses_held [1-9]/m);
    expect(oldActive).toContain('tandem_role{role="ACTIVE"} 0');
    expect(oldActive).toMatch(/^tandem_role_transitions_total\{from="ACTIVE",to="[A-Z]+",reason="[^"]+"\} 1$/m);
    expect(oldActive).toContain('tandem_addresses_held 0');
    expect(oldActive).toMatch(/^tandem_heartbeat_timer_lateness_seconds_count [1-9]/m);
  });
});
