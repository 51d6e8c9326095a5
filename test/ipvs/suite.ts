// Entry of the real-IPVS tier (test/ipvs/run boots the VM and runs this inside the
// director's namespace): one node process imports every test/ipvs/*.test.ts and runs
// them with node:test, one after another, since they share the director's IPVS table.
// (vitest costs ~30 s just to start in the emulated guest; this costs a few seconds.)
// TANDEM_IPVS_ONLY=word runs only the files whose name contains it.
import { readdirSync } from 'node:fs';
import { after, describe } from 'node:test';
import { ipvs, requireIpvsVm } from './director.js';

requireIpvsVm();
const only = process.env.TANDEM_IPVS_ONLY;
const files = readdirSync(import.meta.dirname)
  .filter((file) => file.endsWith('.test.ts') && (!only || file.includes(only)))
  .sort();
if (files.length === 0) throw new Error(`no test/ipvs/*.test.ts matches ${JSON.stringify(only)}`);

// The files' suites are registered inside this one, so `after` runs when all of them
// have finished (loading a file takes seconds in the guest: a top-level hook could run
// between two files).
void describe('real IPVS (VM tier)', async () => {
  after(async () => {
    (await ipvs()).close();
    // Something a test left open (a socket, a child's pipe) would keep the VM running
    // until its time limit: fail instead, soon after the last test.
    setTimeout(() => {
      console.error('the IPVS tier is still running 30 s after its last test: a test left a handle open');
      process.exit(1);
    }, 30_000).unref();
  });
  for (const file of files) await import(`./${file}`);
});
