import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey, KeyFileError, Keyring, loadKeyring, parseKeyFile } from '../../../src/cluster/keys.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (n: number, fill = 1) => Buffer.alloc(n, fill).toString('base64');

describe('key file', () => {
  it('parses ids and keys, skipping comments and blank lines', () => {
    const keys = parseKeyFile(`# keys\n\n1 ${b64(32)}\n  2   ${b64(16, 2)}  \n`, 'k');
    expect([...keys.keys()]).toEqual([1, 2]);
    expect(keys.get(2)).toEqual(Buffer.alloc(16, 2));
  });

  it('names the file and line of every mistake', () => {
    const text = [`1 ${b64(32)}`, 'two keys', `1 ${b64(32)}`, `3 ${b64(8)}`, '4 not*base64', `99999999999 ${b64(32)}`].join('\n');
    expect(() => parseKeyFile(text, '/etc/tandem/key')).toThrow(
      new KeyFileError(
        [
          '/etc/tandem/key:2: expected "<key id> <base64 key>"',
          '/etc/tandem/key:3: key id 1 appears twice',
          '/etc/tandem/key:4: key 3 has 8 bytes, at least 16 are needed (tandem keygen makes 32)',
          '/etc/tandem/key:5: expected "<key id> <base64 key>"',
          '/etc/tandem/key:6: key id 99999999999 is larger than 4294967295',
        ].join('\n'),
      ),
    );
    expect(() => parseKeyFile('# nothing\n', 'k')).toThrow('k: no keys (create one with: tandem keygen k)');
  });

  it('refuses a key file that group or others can read', async () => {
    const file = join(dir, 'key');
    await writeFile(file, `1 ${b64(32)}\n`, { mode: 0o644 });
    await chmod(file, 0o644);
    await expect(loadKeyring(file, 1)).rejects.toThrow(
      `${file}: the key file has mode 0644, so group or others can access it; run: chmod 600 ${file}`,
    );
    await chmod(file, 0o640);
    await expect(loadKeyring(file, 1)).rejects.toThrow('mode 0640');
    await chmod(file, 0o600);
    await expect(loadKeyring(file, 1)).resolves.toBeInstanceOf(Keyring);
    await expect(loadKeyring(join(dir, 'missing'), 1)).rejects.toThrow('cannot read the key file (ENOENT)');
    await expect(loadKeyring(dir, 1)).rejects.toThrow('not a regular file');
  });

  it('refuses a symbolic link, even to a good key file, and a FIFO without blocking', async () => {
    const file = join(dir, 'key');
    await generateKey(file);
    const link = join(dir, 'link');
    await symlink(file, link);
    await expect(loadKeyring(link, 1)).rejects.toThrow(`${link}: the key file is a symbolic link; point key_file at the file itself`);
    await expect(generateKey(link, { add: true })).rejects.toThrow('is a symbolic link');
    expect(parseKeyFile(await readFile(file, 'utf8'), file).size).toBe(1);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await expect(loadKeyring(fifo, 1)).rejects.toThrow(`${fifo}: the key file is not a regular file`);
  });

  it('refuses to add a key to a group-readable key file', async () => {
    const file = join(dir, 'key');
    await generateKey(file);
    await chmod(file, 0o640);
    await expect(generateKey(file, { add: true })).rejects.toThrow(
      `${file}: the key file has mode 0640, so group or others can access it; run: chmod 600 ${file}`,
    );
    expect(parseKeyFile(await readFile(file, 'utf8'), file).size).toBe(1);
  });

  it('needs the configured signing key id in the file', async () => {
    const file = join(dir, 'key');
    await generateKey(file);
    await expect(loadKeyring(file, 2)).rejects.toThrow('no key with id 2 (the configured key_id) in the key file');
  });

  it('keygen writes a root-only file, refuses to overwrite, and adds a second key for rotation', async () => {
    const file = join(dir, 'sub', 'key');
    expect(await generateKey(file)).toBe(1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await expect(generateKey(file)).rejects.toThrow('exists; add a key for rotation with --add');
    expect(await generateKey(file, { add: true })).toBe(2);
    await expect(generateKey(file, { add: true, id: 2 })).rejects.toThrow('key id 2 exists already');
    const keys = parseKeyFile(await readFile(file, 'utf8'), file);
    expect([...keys.keys()]).toEqual([1, 2]);
    expect(keys.get(1)!.length).toBe(32);
    expect(keys.get(1)).not.toEqual(keys.get(2));
    const ring = await loadKeyring(file, 2);
    expect(ring.keyIds).toEqual([1, 2]);
  });
});
