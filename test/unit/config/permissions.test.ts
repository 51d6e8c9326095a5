// A configuration that makes the daemon run commands (as root) must be root's alone:
// whoever can change it can run anything as root.
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDiagnostic, loadConfig } from '../../../src/config/index.js';
import { configError, testOptions } from './helpers.js';

const example = readFileSync(new URL('../../../deploy/examples/tandem.yaml', import.meta.url), 'utf8');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-permissions-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(text: string, mode: number, uid = 0): Promise<string> {
  const path = join(dir, 'tandem.yaml');
  await writeFile(path, text);
  await chmod(path, mode);
  await chown(path, uid, 0);
  return path;
}

describe('files of a configuration that runs commands', () => {
  const withHook = `${example}\nhooks: {active_cmd: /usr/local/sbin/became-active}\n`;

  it('refuses one that others may write, naming the file and the key', async () => {
    const path = await configFile(withHook, 0o666);
    const error = await configError(loadConfig(path, testOptions));
    expect(error.diagnostics).toHaveLength(1);
    const [diagnostic] = error.diagnostics;
    expect(diagnostic?.file).toBe(path);
    expect(diagnostic?.key).toBe('hooks.active_cmd');
    expect(formatDiagnostic(diagnostic!)).toContain(`${path} is writable by its group (mode 0666)`);
  });

  it('refuses one that belongs to another user', async () => {
    const path = await configFile(withHook, 0o644, 1000);
    expect(formatDiagnostic((await configError(loadConfig(path, testOptions))).diagnostics[0]!)).toContain('belongs to uid 1000');
  });

  it('refuses an exec health check in a group-writable file too', async () => {
    const text = example.replace(
      /health_check:\s*\n(\s+)/,
      (match, indent: string) => `${match}send_program: /usr/local/bin/check %h\n${indent}`,
    );
    expect(text).not.toBe(example);
    const path = await configFile(text, 0o664);
    const [diagnostic] = (await configError(loadConfig(path, testOptions))).diagnostics;
    expect(diagnostic?.key).toMatch(/^virtual_services\[\d+\]\.health_check\.send_program$/);
  });

  it("accepts one that is root's alone, and any file of a configuration that runs nothing", async () => {
    await expect(loadConfig(await configFile(withHook, 0o644), testOptions)).resolves.toBeDefined();
    await expect(loadConfig(await configFile(example, 0o666), testOptions)).resolves.toBeDefined();
  });
});
