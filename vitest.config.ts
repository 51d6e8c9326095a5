import { defineConfig } from 'vitest/config';

// Three tiers: `unit` is pure logic in simulated time (fast, no privileges);
// `lab` drives the real kernel in network namespaces the tests create (root);
// `package` builds the Debian package and installs it, and deploy/install.sh,
// into throw-away roots (no namespaces, minutes of compiling and compressing).
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
      {
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          // one build at a time: each compiles the program and both share the npm cache
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          // compiling takes minutes on a machine shared with other builds
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
