import { describe, expect, it } from 'vitest';
import { heartbeatPaths } from '../../../src/cluster/index.js';

describe('heartbeat paths', () => {
  const node = (name: string, address: string, privateAddress?: string) => ({ name, address, privateAddress });

  it('adds the private path only when both nodes have a private address', () => {
    expect(heartbeatPaths(node('a', '192.0.2.1', '10.0.0.1'), node('b', '192.0.2.2', '10.0.0.2'))).toEqual({
      paths: [
        { local: '192.0.2.1', remote: '192.0.2.2' },
        { local: '10.0.0.1', remote: '10.0.0.2' },
      ],
    });
    expect(heartbeatPaths(node('a', '192.0.2.1'), node('b', '192.0.2.2', '10.0.0.2'))).toEqual({
      paths: [{ local: '192.0.2.1', remote: '192.0.2.2' }],
      warning: 'only b has a private address: the private heartbeat path is not used',
    });
  });
});
