// deploy/install.sh, for directors without the Debian package: installs under a
// prefix into DESTDIR, keeps the configuration when installed again, and
// --uninstall takes away everything but the configuration and the key.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder, repository, run } from './shell.js';

let destdir = '';
const prefix = '/opt/tandem';
const install = (...args: string[]) => run('bash', ['deploy/install.sh', '--prefix', prefix, ...args], { DESTDIR: destdir });

beforeAll(async () => {
  destdir = await mkdtemp(join(tmpdir(), 'tandem-install-'));
  await install();
});

afterAll(async () => {
  if (destdir) await rm(destdir, { recursive: true, force: true });
});

describe('deploy/install.sh', () => {
  it('installs under the prefix, the unit where systemd finds it, a root-only key', async () => {
    const files = await filesUnder(destdir);
    expect(files.get(`${prefix}/sbin/tandem`)).toBe(0o755);
    expect(files.get(`${prefix}/lib/tandem/dist/cli/main.js`)).toBe(0o644);
    expect(files.get(`${prefix}/lib/tandem/native/build/Release/tandem_packet.node`)).toBe(0o644);
    expect(files.get(`${prefix}/share/man/man8/tandem.8.gz`)).toBe(0o644);
    expect(files.get(`${prefix}/share/man/man5/tandem.yaml.5.gz`)).toBe(0o644);
    expect(files.get(`${prefix}/share/bash-completion/completions/tandem`)).toBe(0o644);
    expect(files.get('/etc/tandem/tandem.yaml')).toBe(0o644);
    expect(files.get('/etc/tandem/authkey')).toBe(0o600);
    // a prefix systemd does not search puts the unit under /etc
    const unit = await readFile(join(destdir, 'etc/systemd/system/tandem.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${prefix}/sbin/tandem run --config /etc/tandem/tandem.yaml --realtime`);
    expect(unit).toContain(`ExecStopPost=${prefix}/sbin/tandem cleanup --config /etc/tandem/tandem.yaml --after-stop`);
    const launcher = await readFile(join(destdir, prefix, 'sbin/tandem'), 'utf8');
    expect(launcher).toMatch(
      new RegExp(
        `exec \\S+ --single-threaded-gc --max-semi-space-size=1 --v8-pool-size=1 --no-memory-reducer ${prefix}/lib/tandem/dist/cli/main.js "\\$@"`,
      ),
    );
    const version = (JSON.parse(await readFile(join(repository, 'package.json'), 'utf8')) as { version: string }).version;
    expect((await run(process.execPath, [join(destdir, prefix, 'lib/tandem/dist/cli/main.js'), '--version'])).trim()).toBe(version);
  });

  it('keeps the configuration and the key when installed again, and leaves only them on --uninstall', async () => {
    const config = join(destdir, 'etc/tandem/tandem.yaml');
    const changed = `${await readFile(config, 'utf8')}# changed by the operator\n`;
    await writeFile(config, changed);
    const key = await readFile(join(destdir, 'etc/tandem/authkey'), 'utf8');
    await install();
    expect(await readFile(config, 'utf8')).toBe(changed);
    expect(await readFile(join(destdir, 'etc/tandem/authkey'), 'utf8')).toBe(key);

    await install('--uninstall');
    expect([...(await filesUnder(destdir)).keys()].sort()).toEqual(['/etc/tandem/authkey', '/etc/tandem/tandem.yaml']);
    expect(await readFile(config, 'utf8')).toBe(changed);
  });
});
