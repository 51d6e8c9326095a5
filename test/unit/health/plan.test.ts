import { describe, expect, it } from 'vitest';
import { planHealth, serverKey } from '../../../src/health/plan.js';
import { healthCheck, modelOf, realServer, virtualService } from '../../support/models.js';

describe('health plan', () => {
  it('checks the real server address and port; port 0 means the service port; the check port overrides both', () => {
    const service = virtualService('web', [realServer('10.8.8.33', 0), realServer('10.8.8.34', 8080)]);
    const [a, b] = planHealth(modelOf([service]));
    expect(a?.check?.target).toEqual({ address: '10.8.8.33', family: 4, port: 80 });
    expect(b?.check?.target.port).toBe(8080);
    const overridden = planHealth(modelOf([{ ...service, healthCheck: healthCheck({ port: 9000 }) }]));
    expect(overridden.map((p) => p.check?.target.port)).toEqual([9000, 9000]);
  });

  it("Piranha's send/expect (seed 001) compiles to a TCP exchange", () => {
    const service = virtualService('http_server', [realServer('10.8.8.33', 0)], {
      fwmark: 80,
      healthCheck: healthCheck({ kind: 'send-expect', send: 'GET / HTTP/1.0\r\n\r\n', expect: 'HTTP', timeout: 6000, reentry: 15_000 }),
    });
    const [plan] = planHealth(modelOf([service]));
    expect(plan?.key).toBe('FWM 80 -> 10.8.8.33:80');
    expect(plan?.check?.probe).toMatchObject({ kind: 'stream', send: 'GET / HTTP/1.0\r\n\r\n' });
    expect(plan?.check?.timeout).toBe(6000);
    expect(plan?.policy).toEqual({ failures: 1, reentry: 15_000, reentryChecks: 1, slowStart: 0, slowStartCurve: 'linear' });
  });

  it('UDP services get datagram probes', () => {
    const service = virtualService('dns', [realServer('10.8.8.33', 53)], { protocol: 'udp', port: 53 });
    expect(planHealth(modelOf([service]))[0]?.check?.probe.kind).toBe('datagram');
  });

  it("connect-only checks of a transport share one probe; a send/expect service's servers share theirs", () => {
    const tcp = healthCheck({ kind: 'tcp' });
    const exchange = healthCheck({ kind: 'send-expect', send: 'PING\r\n', expect: 'PONG' });
    const plans = planHealth(
      modelOf([
        virtualService('a', [realServer('10.8.8.33', 80)], { healthCheck: tcp }),
        virtualService('b', [realServer('10.8.8.34', 80)], { port: 81, healthCheck: tcp }),
        virtualService('c', [realServer('10.8.8.35', 53)], { protocol: 'udp', port: 53, healthCheck: tcp }),
        virtualService('d', [realServer('10.8.8.36', 80), realServer('10.8.8.37', 80)], { port: 82, healthCheck: exchange }),
      ]),
    );
    const [a, b, c, d1, d2] = plans.map((plan) => plan.check?.probe);
    expect(b).toBe(a);
    expect(a).toEqual({ kind: 'stream' });
    expect(c).toEqual({ kind: 'datagram' });
    expect(d2).toBe(d1);
    expect(d1).not.toBe(a);
  });

  it('send_program has %h and %p replaced; its expect is kept', () => {
    const service = virtualService('dns', [realServer('2001:db8::5', 53)], {
      healthCheck: healthCheck({ kind: 'exec', sendProgram: '/usr/local/bin/check_dns %h %p', expect: 'OK' }),
    });
    const [plan] = planHealth(modelOf([service]));
    expect(plan?.check?.probe).toMatchObject({ kind: 'program', command: '/usr/local/bin/check_dns 2001:db8::5 53' });
    expect(plan?.key).toBe('TCP 203.0.113.10:80 -> [2001:db8::5]:53');
  });

  it('inactive servers and services are not checked; kind none is not checked', () => {
    const service = virtualService('web', [realServer('10.8.8.33', 0, { active: false }), realServer('10.8.8.34', 0)]);
    const plans = planHealth(
      modelOf([
        service,
        virtualService('off', [realServer('10.8.8.35', 0)], { active: false, port: 81 }),
        virtualService('none', [realServer('10.8.8.36', 0)], { port: 82, healthCheck: healthCheck({ kind: 'none' }) }),
      ]),
    );
    expect(plans.map((p) => p.unchecked?.kind ?? 'checked')).toEqual(['inactive', 'checked', 'inactive', 'none']);
  });

  it('a check that cannot run is reported, not thrown: bad regex, SCTP, all-ports service, missing settings', () => {
    const plans = planHealth(
      modelOf([
        virtualService('regex', [realServer('10.0.0.1', 0)], {
          healthCheck: healthCheck({ kind: 'send-expect', expect: '(', useRegex: true }),
        }),
        virtualService('sctp', [realServer('10.0.0.2', 0)], { protocol: 'sctp', port: 81 }),
        virtualService('allports', [realServer('10.0.0.3', 0)], { port: 0, fwmark: 3, persistence: { timeout: 300 } }),
        virtualService('http', [realServer('10.0.0.4', 0)], { port: 83, healthCheck: healthCheck({ kind: 'http' }) }),
        virtualService('exec', [realServer('10.0.0.5', 0)], { port: 84, healthCheck: healthCheck({ kind: 'exec' }) }),
      ]),
    );
    expect(plans.map((p) => p.unchecked?.kind)).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
    expect(plans.map((p) => p.unchecked?.message)).toEqual([
      expect.stringContaining('invalid regular expression /(/'),
      expect.stringContaining('SCTP'),
      expect.stringContaining('no port to check 10.0.0.3'),
      expect.stringContaining('http check without http settings'),
      expect.stringContaining('exec check without send_program'),
    ]);
  });

  it('the key follows the IPVS identity, not the names', () => {
    const a = virtualService('web', [realServer('10.8.8.33', 0)]);
    const renamed = { ...a, name: 'www', realServers: [{ ...a.realServers[0]!, name: 'other' }] };
    expect(serverKey(renamed, renamed.realServers[0]!)).toBe(serverKey(a, a.realServers[0]!));
  });
});
