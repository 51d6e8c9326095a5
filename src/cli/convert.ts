// `tandem convert FILE --to yaml`: an lvs.cf, ipvsadm rules, lvs.conf, keepalived.conf or
// ldirectord.cf as tandem.yaml, with everything tandem uses (it reads back to the same model).
import { Option, type Command } from 'commander';
import { toYaml, type ConfigFormat } from '../config/index.js';
import type { CommandModule } from './command.js';
import { formatOption, loadForCommand } from './config-input.js';

export const convertCommand: CommandModule = {
  register(program: Command): void {
    program
      .command('convert')
      .description(
        'convert a configuration (lvs.cf, ipvsadm rules, lvs.conf, keepalived.conf, ldirectord.cf, tandem.yaml) to tandem.yaml on stdout',
      )
      .argument('<file>', 'configuration file')
      .addOption(new Option('--to <format>', 'output format').choices(['yaml']).makeOptionMandatory())
      .addOption(formatOption())
      .action(async (file: string, options: { format?: ConfigFormat }) => {
        const loaded = await loadForCommand(file, options);
        if (loaded === undefined) return;
        process.stdout.write(`# tandem.yaml converted from ${file} (${loaded.format})\n${await toYaml(loaded.model)}`);
      });
  },
};
