import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { summary } from '../../../src/cli/check-config.js';
import { testOptions } from '../config/helpers.js';

describe('check-config summary', () => {
  it('brackets IPv6 real servers wherever they are shown', async () => {
    const rules = 'ipvsadm -A -t [2001:db8::80]:80 -s rr\nipvsadm -a -t [2001:db8::80]:80 -r [2001:db8::a0a0]:80 -m\n';
    const text = summary('ipv6.rules', await parseConfig(rules, 'ipv6.rules', testOptions), 'vm');
    expect(text).toContain('    [2001:db8::a0a0]:80: [2001:db8::a0a0]:80 masq weight 1\n');
    expect(text).not.toMatch(/[^[]2001:db8::a0a0:80/);
  });
});
