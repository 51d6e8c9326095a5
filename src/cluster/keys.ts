// Shared keys for the secure channel. The key file is text, one key per line,
// `<key id> <base64 key>`, `#` comments; it must be a regular file (not a symbolic
// link) that only its owner (the user running tandem, root) can read or write. Every key in the file
// verifies; the configured key id signs. Rotation: add a second key on both
// nodes, switch `key_id`, then remove the old key.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export const macLength = 32;
const minKeyBytes = 16;
const generatedKeyBytes = 32;
const maxKeyId = 0xffff_ffff;

export class KeyFileError extends Error {}

export class Keyring {
  private readonly keys: ReadonlyMap<number, KeyObject>;
  private readonly signingKey: KeyObject;

  constructor(
    keys: ReadonlyMap<number, Uint8Array>,
    readonly signingKeyId: number,
  ) {
    this.keys = new Map([...keys].map(([id, key]) => [id, createSecretKey(key)]));
    const signingKey = this.keys.get(signingKeyId);
    if (!signingKey) throw new KeyFileError(`no key with id ${signingKeyId} (the configured key_id) in the key file`);
    this.signingKey = signingKey;
  }

  get keyIds(): number[] {
    return [...this.keys.keys()];
  }

  has(keyId: number): boolean {
    return this.keys.has(keyId);
  }

  sign(data: Uint8Array): Buffer {
    return hmac(this.signingKey, data);
  }

  /** 'unknown-key' when no key has this id, 'bad-mac' when the MAC does not match. */
  verify(keyId: number, data: Uint8Array, mac: Uint8Array): 'ok' | 'unknown-key' | 'bad-mac' {
    const key = this.keys.get(keyId);
    if (!key) return 'unknown-key';
    return timingSafeEqual(hmac(key, data), mac) ? 'ok' : 'bad-mac';
  }
}

function hmac(key: KeyObject, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Parses key file text; errors name the file and line. */
export function parseKeyFile(text: string, file: string): Map<number, Uint8Array> {
  const keys = new Map<number, Uint8Array>();
  const errors: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const [, idText, keyText] = /^(\d+)\s+([A-Za-z0-9+/]+={0,2})$/.exec(line) ?? [];
    if (idText === undefined || keyText === undefined) return errors.push(`${where}: expected "<key id> <base64 key>"`);
    const id = Number(idText);
    const key = Buffer.from(keyText, 'base64');
    if (id > maxKeyId) errors.push(`${where}: key id ${id} is larger than ${maxKeyId}`);
    else if (keys.has(id)) errors.push(`${where}: key id ${id} appears twice`);
    else if (key.toString('base64').replace(/=+$/, '') !== keyText.replace(/=+$/, '')) errors.push(`${where}: the key is not valid base64`);
    else if (key.length < minKeyBytes)
      errors.push(
        `${where}: key ${id} has ${key.length} bytes, at least ${minKeyBytes} are needed (tandem keygen makes ${generatedKeyBytes})`,
      );
    else keys.set(id, key);
  });
  if (errors.length === 0 && keys.size === 0) errors.push(`${file}: no keys (create one with: tandem keygen ${file})`);
  if (errors.length > 0) throw new KeyFileError(errors.join('\n'));
  return keys;
}

/**
 * Opens the key file, refusing one others could read or replace: it must be a
 * regular file of ours, mode 0600 or stricter, and not a symbolic link. It is
 * opened once and checked and then read (or appended to) through that descriptor,
 * so it cannot be swapped between the check and the use.
 */
async function openKeyFile(file: string, access: number): Promise<FileHandle> {
  // O_NONBLOCK: a FIFO planted at the path must not block the open (it is then refused as not a regular file).
  const handle = await open(file, access | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new KeyFileError(`${file}: the key file is a symbolic link; point key_file at the file itself`);
    throw new KeyFileError(`${file}: cannot read the key file (${code ?? String(error)}); create one with: tandem keygen ${file}`);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new KeyFileError(`${file}: the key file is not a regular file`);
    const euid = process.geteuid?.();
    if (euid !== undefined && info.uid !== euid)
      throw new KeyFileError(`${file}: the key file is owned by uid ${info.uid}, not by the user running tandem (uid ${euid})`);
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new KeyFileError(`${file}: the key file has mode ${mode}, so group or others can access it; run: chmod 600 ${file}`);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export async function readKeyFile(file: string): Promise<string> {
  const handle = await openKeyFile(file, constants.O_RDONLY);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

export async function loadKeyring(file: string, signingKeyId: number): Promise<Keyring> {
  return new Keyring(parseKeyFile(await readKeyFile(file), file), signingKeyId);
}

/**
 * Writes a new random key: creates the file (mode 0600) with key id 1, or with
 * `add`, appends a key with the next free id to an existing file (for rotation).
 * Returns the new key's id.
 */
export async function generateKey(file: string, options: { add?: boolean; id?: number } = {}): Promise<number> {
  if (options.add) {
    const handle = await openKeyFile(file, constants.O_RDWR | constants.O_APPEND);
    try {
      const id = newKeyId(file, parseKeyFile(await handle.readFile('utf8'), file), options.id);
      await handle.writeFile(keyLine(id));
      return id;
    } finally {
      await handle.close();
    }
  }
  const id = newKeyId(file, new Map(), options.id);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  // O_EXCL refuses any existing path, a symbolic link included.
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new KeyFileError(`${file} exists; add a key for rotation with --add, or remove the file first`);
    throw new KeyFileError(`${file}: ${(error as Error).message}`);
  });
  try {
    await handle.writeFile(
      `# tandem keys: <key id> <base64 key>. Keep this file root-only (mode 0600), the same on both nodes.\n${keyLine(id)}`,
    );
    return id;
  } finally {
    await handle.close();
  }
}

function newKeyId(file: string, existing: ReadonlyMap<number, Uint8Array>, wanted: number | undefined): number {
  const id = wanted ?? Math.max(0, ...existing.keys()) + 1;
  if (existing.has(id)) throw new KeyFileError(`${file}: key id ${id} exists already`);
  if (!Number.isInteger(id) || id < 0 || id > maxKeyId) throw new KeyFileError(`key id ${id} is not an integer between 0 and ${maxKeyId}`);
  return id;
}

function keyLine(id: number): string {
  return `${id} ${randomBytes(generatedKeyBytes).toString('base64')}\n`;
}
