import { defineConfig } from 'vitest/config';

// Two tiers: `unit` is pure logic in simulated time (fast, no privileges);
// `lab` drives the real kernel in network namespaces the tests create (root).
// The IPVS tier runs inside a VM and has its own runner (test/ipvs/run).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          // Lab tests share the kernel and measure timing; running them one file at a
          // time keeps one test's CPU load from making another's deadline.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
