import { describe, expect, it } from 'vitest';
import { stoppedCleanly } from '../../../src/cli/cleanup.js';

describe('tandem cleanup --after-stop', () => {
  it('skips only when systemd reports a clean exit of the daemon', () => {
    expect(stoppedCleanly({ SERVICE_RESULT: 'success', EXIT_CODE: 'exited', EXIT_STATUS: '0' })).toBe(true);
    expect(stoppedCleanly({ SERVICE_RESULT: 'signal', EXIT_CODE: 'killed', EXIT_STATUS: 'KILL' })).toBe(false);
    expect(stoppedCleanly({ SERVICE_RESULT: 'oom-kill', EXIT_CODE: 'killed', EXIT_STATUS: 'KILL' })).toBe(false);
    expect(stoppedCleanly({ SERVICE_RESULT: 'exit-code', EXIT_CODE: 'exited', EXIT_STATUS: '2' })).toBe(false);
    expect(stoppedCleanly({})).toBe(false);
  });
});
