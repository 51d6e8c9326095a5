// Commands for the package tests: run to completion, output captured, a failure
// thrown with what the command printed.
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repository = fileURLToPath(new URL('../..', import.meta.url));

const execute = promisify(execFile);

export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its output whatever its exit status. */
export async function attempt(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Output> {
  return execute(command, args, { cwd: repository, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    },
  );
}

/** Runs a command that must succeed; resolves with its standard output. */
export async function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const output = await attempt(command, args, env);
  if (output.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${output.code}:\n${output.stderr}${output.stdout}`);
  return output.stdout;
}

/** Every file and symbolic link under `root`, as `/path` relative to it, with its permission bits. */
export async function filesUnder(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(`/${relative(root, path)}`, (await stat(path)).mode & 0o7777);
  }
  return files;
}
