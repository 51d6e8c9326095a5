// Services arriving from the loader's worker share their equal values, and keep their own
// where they differ.
import { describe, expect, it } from 'vitest';
import type { VirtualService } from '../../../src/config/model.js';
import { SharedValues } from '../../../src/config/shared-values.js';
import { healthCheck, realServer, virtualService } from '../../support/ipvs-models.js';

/** A service as JSON.parse gives it: no value shared with any other. */
const parsed = (value: VirtualService): VirtualService => JSON.parse(JSON.stringify(value)) as VirtualService;

describe('SharedValues', () => {
  it('makes equal check settings one object, and leaves different ones apart', () => {
    const values = new SharedValues();
    const tcp = healthCheck({ kind: 'tcp' });
    const [a, b, c] = [
      values.share(parsed(virtualService('a', '10.0.0.1', { healthCheck: tcp }))),
      values.share(parsed(virtualService('b', '10.0.0.2', { healthCheck: tcp }))),
      values.share(parsed(virtualService('c', '10.0.0.3', { healthCheck: { ...tcp, interval: 5000 } }))),
    ];
    expect(b.healthCheck).toBe(a.healthCheck);
    expect(c.healthCheck).not.toBe(a.healthCheck);
    expect(c.healthCheck).toEqual({ ...tcp, interval: 5000 });
  });

  it('leaves each service equal to what it was', () => {
    const values = new SharedValues();
    const original = virtualService('web', '10.0.0.1', {
      realServers: [realServer('172.16.0.1'), realServer('172.16.0.2', { forwarding: 'gate' })],
    });
    expect(values.share(parsed(original))).toEqual(original);
    expect(values.share(parsed(original))).toEqual(original);
  });
});
