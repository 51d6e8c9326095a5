// The Debian package as a director gets it: built by `npm run package`, installed
// into a throw-away root (dpkg --root, maintainer scripts run outside a chroot with
// $DPKG_ROOT), upgraded over itself, purged.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyFile } from '../../src/cluster/keys.js';
import { attempt, filesUnder, repository, run } from './shell.js';

interface Manifest {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const manifest = JSON.parse(await readFile(join(repository, 'package.json'), 'utf8')) as Manifest;

let deb = '';
let root = '';
let scratch = '';

const dpkg = (...args: string[]) =>
  run('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-not-root', '--force-depends', '--log=/dev/null', ...args]);

beforeAll(async () => {
  // gzip, fastest: the contents are what is tested, and xz takes minutes on a busy machine
  const built = await run('bash', ['deploy/debian/build.sh'], { TANDEM_DEB_COMPRESSION: 'gzip:1' });
  deb = join(repository, built.trim().split('\n').pop()!);
  scratch = await mkdtemp(join(tmpdir(), 'tandem-deb-'));
  root = join(scratch, 'root');
  for (const dir of ['info', 'updates', 'triggers']) await mkdir(join(root, 'var/lib/dpkg', dir), { recursive: true });
  await writeFile(join(root, 'var/lib/dpkg/status'), '');
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** `dpkg-deb -c`: mode string, owner and path of every entry. */
async function contents(): Promise<Array<{ mode: string; owner: string; path: string }>> {
  const listing = await run('dpkg-deb', ['-c', deb]);
  return listing
    .trim()
    .split('\n')
    .map((line) => {
      const [mode = '', owner = '', , , , ...rest] = line.split(/\s+/);
      return { mode, owner, path: rest.join(' ').replace(/^\./, '').split(' -> ')[0]! };
    });
}

describe('the Debian package', () => {
  it('holds the program, its production dependencies, the runtime and the addon, root-owned, nothing writable but by root', async () => {
    const entries = await contents();
    const mode = (path: string) => entries.find((e) => e.path === path)?.mode;
    expect(mode('/usr/sbin/tandem')).toBe('-rwxr-xr-x');
    expect(mode('/usr/lib/tandem/node')).toBe('-rwxr-xr-x');
    expect(mode('/usr/lib/tandem/dist/cli/main.js')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/tandem/dist/cli/cleanup.js')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/tandem/native/build/Release/tandem_packet.node')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/tandem/proto/heartbeat.proto')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/tandem/proto/channel.proto')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/tandem/package.json')).toBe('-rw-r--r--');
    expect(mode('/usr/lib/systemd/system/tandem.service')).toBe('-rw-r--r--');
    expect(mode('/etc/tandem/tandem.yaml')).toBe('-rw-r--r--');
    expect(mode('/usr/share/man/man8/tandem.8.gz')).toBe('-rw-r--r--');
    expect(mode('/usr/share/man/man5/tandem.yaml.5.gz')).toBe('-rw-r--r--');
    expect(mode('/usr/share/bash-completion/completions/tandem')).toBe('-rw-r--r--');
    expect(mode('/usr/share/doc/tandem/copyright')).toBe('-rw-r--r--');
    expect(mode('/usr/share/tandem/tandem.schema.json')).toBe('-rw-r--r--');
    for (const dependency of Object.keys(manifest.dependencies))
      expect(mode(`/usr/lib/tandem/node_modules/${dependency}/package.json`), dependency).toBe('-rw-r--r--');
    // the development tools stay out (type packages may come in as a dependency's dependency)
    for (const dependency of Object.keys(manifest.devDependencies).filter((name) => !name.startsWith('@types/')))
      expect(mode(`/usr/lib/tandem/node_modules/${dependency}/package.json`), dependency).toBeUndefined();

    const places = ['/etc/tandem/', '/usr/lib/tandem/', '/usr/lib/systemd/system/', '/usr/sbin/', '/usr/share/'];
    for (const entry of entries) {
      expect(entry.owner, entry.path).toBe('root/root');
      // no write bit for group or others (a symbolic link's own bits mean nothing)
      if (!entry.mode.startsWith('l')) expect([entry.mode[5], entry.mode[8]], entry.path).toEqual(['-', '-']);
      if (!entry.mode.startsWith('d'))
        expect(
          places.some((place) => entry.path.startsWith(place)),
          entry.path,
        ).toBe(true);
    }
    // the compiled program only: no sources, maps or tests
    expect(entries.filter((e) => e.path.startsWith('/usr/lib/tandem/dist/') && !/\.js$|\/$/.test(e.path))).toEqual([]);
  });

  it('says what it is, what it needs, and which files are the configuration', async () => {
    const fields = await run('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture', 'Depends']);
    const arch = (await run('dpkg', ['--print-architecture'])).trim();
    expect(fields).toContain('Package: tandem\n');
    expect(fields).toContain(`Version: ${manifest.version}\n`);
    expect(fields).toContain(`Architecture: ${arch}\n`);
    expect(fields).toMatch(/Depends: .*libc6 \(>= 2\.\d+\)/);
    expect(await run('dpkg-deb', ['-I', deb, 'conffiles'])).toBe('/etc/tandem/tandem.yaml\n');
    for (const script of ['postinst', 'prerm', 'postrm']) await run('sh', ['-n', join(repository, 'deploy/debian', script)]);
  });

  it('has man pages that format without a warning', async () => {
    for (const page of ['man8/tandem.8.gz', 'man5/tandem.yaml.5.gz']) {
      const text = await run('sh', ['-c', `dpkg-deb --fsys-tarfile "$0" | tar -xOf - ./usr/share/man/${page} | gunzip`, deb]);
      const rendered = await attempt('sh', ['-c', 'printf "%s" "$0" | groff -ww -man -Tutf8 -z', text]);
      expect(rendered, page).toEqual({ code: 0, stdout: '', stderr: '' });
    }
  });

  it('installs a director: the files, their modes, a root-only key, a valid example configuration', async () => {
    await dpkg('-i', deb);
    expect(await run('dpkg-query', [`--root=${root}`, '-W', '-f=${Status} ${Version}', 'tandem'])).toBe(
      `install ok installed ${manifest.version}`,
    );
    expect(await run('dpkg-query', [`--root=${root}`, '-W', '-f=${Conffiles}', 'tandem'])).toMatch(
      /^ \/etc\/tandem\/tandem\.yaml [0-9a-f]{32}$/,
    );
    const installed = await filesUnder(root);
    expect(installed.get('/usr/sbin/tandem')).toBe(0o755);
    expect(installed.get('/usr/lib/tandem/node')).toBe(0o755);
    expect(installed.get('/etc/tandem/tandem.yaml')).toBe(0o644);
    expect(installed.get('/etc/tandem/authkey')).toBe(0o600);

    const launcher = await readFile(join(root, 'usr/sbin/tandem'), 'utf8');
    expect(launcher).toContain(
      'exec /usr/lib/tandem/node --single-threaded-gc --max-semi-space-size=1 --v8-pool-size=1 --no-memory-reducer /usr/lib/tandem/dist/cli/main.js "$@"',
    );
    const node = join(root, 'usr/lib/tandem/node');
    const main = join(root, 'usr/lib/tandem/dist/cli/main.js');
    expect((await run(node, [main, '--version'])).trim()).toBe(manifest.version);
    // the native pieces load in the runtime that came with them
    const addons = ['native/build/Release/tandem_packet.node', 'node_modules/netlink'].map((path) => join(root, 'usr/lib/tandem', path));
    await run(node, ['-e', 'for (const addon of process.argv.slice(1)) require(addon)', ...addons]);
    // the example is valid; the key made at install is one tandem reads
    await run(node, [main, 'check-config', join(root, 'etc/tandem/tandem.yaml')]);
    expect([...parseKeyFile(await readFile(join(root, 'etc/tandem/authkey'), 'utf8'), 'authkey').keys()]).toEqual([1]);
  });

  it('ships a unit that systemd-analyze verifies, with least privilege', async () => {
    const unit = await readFile(join(root, 'usr/lib/systemd/system/tandem.service'), 'utf8');
    const checked = join(scratch, 'unit');
    await mkdir(checked, { recursive: true });
    // the unit names /usr/sbin/tandem; verify checks it exists, so point it into the root
    await writeFile(join(checked, 'tandem.service'), unit.replaceAll('/usr/sbin/tandem', join(root, 'usr/sbin/tandem')));
    const verified = await attempt('systemd-analyze', ['verify', '--man=no', '--generators=no', join(checked, 'tandem.service')]);
    expect(verified.stderr.split('\n').filter((line) => line.includes('tandem'))).toEqual([]);
    expect(verified.code).toBe(0);
    const settings = new Map(
      unit.split('\n').flatMap((line) => (/^[A-Z]\w+=/.test(line) ? [line.split(/=(.*)/s) as [string, string]] : [])),
    );
    expect(settings.get('CapabilityBoundingSet')?.split(' ').sort()).toEqual([
      'CAP_NET_ADMIN',
      'CAP_NET_BIND_SERVICE',
      'CAP_NET_RAW',
      'CAP_SYS_NICE',
    ]);
    expect(settings.get('ProtectSystem')).toBe('strict');
    expect(settings.get('NoNewPrivileges')).toBe('yes');
    expect(settings.get('KillMode')).toBe('process');
    expect(settings.get('ExecReload')).toBe('/usr/sbin/tandem reload');
    expect(settings.get('ExecStopPost')).toBe('/usr/sbin/tandem cleanup --config /etc/tandem/tandem.yaml --after-stop');
    const security = await attempt('systemd-analyze', ['security', '--offline=yes', join(checked, 'tandem.service')]);
    const exposure = /Overall exposure level for tandem\.service: ([\d.]+)/.exec(security.stdout);
    expect(Number(exposure?.[1])).toBeLessThan(5.5);
  });

  it('keeps a changed configuration and the key when upgraded over itself', async () => {
    const config = join(root, 'etc/tandem/tandem.yaml');
    const changed = (await readFile(config, 'utf8')).replace('serial_no: 1', 'serial_no: 2');
    await writeFile(config, changed);
    const key = await readFile(join(root, 'etc/tandem/authkey'), 'utf8');
    await dpkg('-i', deb);
    expect(await readFile(config, 'utf8')).toBe(changed);
    expect(await readFile(join(root, 'etc/tandem/authkey'), 'utf8')).toBe(key);
    expect((await stat(join(root, 'etc/tandem/authkey'))).mode & 0o777).toBe(0o600);
  });

  it('leaves nothing behind when purged', async () => {
    await dpkg('--purge', 'tandem');
    const left = [...(await filesUnder(root)).keys()].filter((path) => !path.startsWith('/var/lib/dpkg/'));
    expect(left).toEqual([]);
    await expect(stat(join(root, 'etc/tandem'))).rejects.toThrow();
    await expect(stat(join(root, 'usr/lib/tandem'))).rejects.toThrow();
  });
});
