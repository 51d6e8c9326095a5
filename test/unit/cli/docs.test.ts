// The man page and the bash completion list every command and option the program has.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tandemProgram } from '../../../src/cli/program.js';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const manPage = read('deploy/man/tandem.8');
const completion = read('deploy/completion/tandem.bash');

const program = tandemProgram();
const commands = program.commands.map((command) => ({
  name: command.name(),
  options: command.options.flatMap((option) => option.long ?? []),
}));

describe('tandem(8) and the bash completion', () => {
  it('name every command', () => {
    const completed = /local commands='([^']*)'/.exec(completion)?.[1]?.split(' ') ?? [];
    expect(completed.sort()).toEqual([...commands.map((c) => c.name), 'help'].sort());
    // an entry of COMMANDS: `.TP` and the command in bold
    for (const { name } of commands)
      expect(manPage, name).toMatch(new RegExp(`^\\.TP\\n\\.B[IR]? "?${name.replaceAll('-', '\\\\-')}[ "\\n]`, 'm'));
  });

  it("name every command's options", () => {
    for (const { name, options } of commands) {
      const line = new RegExp(`^\\s*(?:[\\w-]+ \\| )*${name}(?: \\| [\\w-]+)*\\) options='([^']*)'`, 'm').exec(completion);
      expect(line?.[1]?.split(' ').sort(), name).toEqual([...options, '--help'].sort());
      for (const option of options) expect(manPage, `${name} ${option}`).toContain(option.replaceAll('-', '\\-'));
    }
    expect(manPage).toContain('\\-\\-version');
    expect(completion).toContain("options='--version --help'");
  });
});
