// The CLI as it ships (tsc output), built once per test run into a private directory so
// tests never run a stale dist/ or race another build of it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface BuiltCli {
  /** Path of the built `tandem` entry point. */
  main: string;
  remove(): Promise<void>;
}

export async function buildCli(): Promise<BuiltCli> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-cli-'));
  // Laid out as the package is (dist/ next to proto/), since modules find their data relative to themselves.
  const dist = join(dir, 'dist');
  // Type-checking is the job of `tsc -p tsconfig.test.json`; here only the JS matters.
  await run(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.json'),
    '--noCheck',
    '--sourceMap',
    'false',
    '--outDir',
    dist,
  ]);
  await symlink(join(root, 'package.json'), join(dir, 'package.json'));
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
  await symlink(join(root, 'proto'), join(dir, 'proto'));
  return { main: join(dist, 'cli/main.js'), remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(cli: BuiltCli, args: string[]): Promise<CliResult> {
  return run(process.execPath, [cli.main, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => ({
      code: (error as { code?: number }).code ?? -1,
      stdout: (error as { stdout?: string }).stdout ?? '',
      stderr: (error as { stderr?: string }).stderr ?? '',
    }),
  );
}
