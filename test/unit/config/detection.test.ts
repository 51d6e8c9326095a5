// Which format a file is read as: its content first, then its name; another tool's file
// (or a script) gets one clear error instead of a hundred in the wrong syntax.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parseConfig } from '../../../src/config/index.js';
import { configError, testOptions, where } from './helpers.js';

const keepalived =
  '! Configuration File for keepalived\nglobal_defs {\n  router_id LVS1\n}\nvirtual_server 192.0.2.10 80 {\n  lb_algo rr\n}\n';
const ldirectord = 'checktimeout=10\nvirtual=192.0.2.10:80\n\treal=10.1.0.1:80 gate\n\tchecktype=connect\n';

describe('format detection', () => {
  it('reads the content, not the name, when they disagree, and says so', async () => {
    const { format, model, warnings } = await parseConfig(
      '-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.1.0.1 -g\n',
      'lvs.cf',
      testOptions,
    );
    expect(format).toBe('ipvsadm');
    expect(model.virtualServices).toHaveLength(1);
    expect(warnings.map(formatDiagnostic)).toEqual([
      'lvs.cf:1:1: warning: the name says Piranha lvs.cf but the content is ipvsadm rules; read as ipvsadm rules (--format chooses)',
    ]);
  });

  it.each([
    [
      'a keepalived.conf named lvs.cf',
      'lvs.cf',
      keepalived,
      'keepalived',
      ['lvs.cf:2:1: warning: the name says Piranha lvs.cf but the content is keepalived.conf; read as keepalived.conf (--format chooses)'],
    ],
    ['a keepalived.conf', 'keepalived.conf', keepalived, 'keepalived', []],
    ['an ldirectord.cf', 'ldirectord.cf', ldirectord, 'ldirectord', []],
    [
      'an ldirectord.cf in Config::Ldirectord sections',
      'ha.cf',
      `[192-0-2-10:80]\n${ldirectord.slice(16)}`,
      'ldirectord',
      ['ha.cf:2:1: warning: the name says Piranha lvs.cf but the content is ldirectord.cf; read as ldirectord.cf (--format chooses)'],
    ],
  ] as const)('%s is read as one', async (_, file, text, format, aboutTheName) => {
    const result = await parseConfig(text, file, testOptions);
    expect(result.format).toBe(format);
    const nameWarnings = result.warnings.filter((w) => w.message.startsWith('the name says'));
    expect(nameWarnings.map(formatDiagnostic)).toEqual(aboutTheName);
  });

  it('a director init script: one error', async () => {
    const script = 'VIP=192.0.2.10\ncase "$1" in\nstart)\n  ipvsadm -A -t $VIP:80\n  ;;\nesac\n';
    const error = await configError(parseConfig(script, 'lvs.conf', testOptions));
    expect(error.diagnostics).toHaveLength(1);
    expect(where(error.diagnostics[0])).toBe('2:1 -');
    expect(formatDiagnostic(error.diagnostics[0]!)).toContain('shell script');
  });

  it('--format keepalived reads the file as keepalived.conf when nothing shows it is one', async () => {
    const error = await configError(parseConfig('primary = 10.0.0.1\n', 'lvs.cf', { ...testOptions, format: 'keepalived' }));
    expect(error.diagnostics).toHaveLength(1);
    expect(where(error.diagnostics[0])).toBe('1:1 primary');
    // lvs.cf's keyword, unknown to the keepalived.conf reader
    expect(error.diagnostics[0]?.message).toBe('unknown keyword');
  });

  it('a script of plain ipvsadm commands is still a rules file', async () => {
    const { format } = await parseConfig('#!/bin/sh\nipvsadm -A -u 192.0.2.53:53 -s rr\n', 'magic.sh', testOptions);
    expect(format).toBe('ipvsadm');
  });

  it('a script inside a YAML block scalar is YAML', async () => {
    const text = 'hooks:\n  notify: |\n    case "$1" in\n    esac\n';
    expect((await parseConfig(text, 'tandem.yaml', testOptions)).format).toBe('yaml');
  });
});

describe('many errors', () => {
  it('stops after 100 and counts the rest', async () => {
    // 156 unknown keywords and no primary: 157 errors
    const error = await configError(parseConfig('bogus = 1\n'.repeat(156), 'lvs.cf', testOptions));
    expect(error.diagnostics).toHaveLength(101);
    expect(error.diagnostics[100]?.message).toBe('too many errors; stopped reporting after 100 (… and 57 more)');
  });

  it('does not repeat a long list of options in every message', async () => {
    const error = await configError(parseConfig('-A -t 192.0.2.10:80 --frobnicate\n', 'ipvsadm.rules', testOptions));
    expect(error.diagnostics[0]?.expected).toMatch(/^one of the \d+ listed in the README$/);
    const short = await configError(parseConfig('VIP=192.0.2.8\nTPORTS=80\nRIP=10.1.0.1\n', 'lvs.conf', testOptions));
    expect(short.diagnostics[0]?.expected).toBe('one of VIP, VIP_IF, LVS_IF, TPORTS, UPORTS, RIPS');
  });
});
