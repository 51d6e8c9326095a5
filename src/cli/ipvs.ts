import type { Command } from 'commander';
import { IpvsNetlink, formatList, formatSave, readTable } from '../ipvs/index.js';
import { ExitCode, type CommandModule } from './command.js';

/** `tandem ipvs`: the kernel's IPVS table as `ipvsadm -Ln` shows it; `--save` prints it
 *  as rules for `ipvsadm -R` (`ipvsadm -S -n`). Reads the kernel, changes nothing. */
export const ipvsCommand: CommandModule = {
  register(program: Command) {
    program
      .command('ipvs')
      .description("show the kernel's IPVS table (like ipvsadm -Ln)")
      .option('-S, --save', 'print the table as rules for ipvsadm -R (like ipvsadm -S -n)')
      .action(async (options: { save?: boolean }) => {
        let driver: IpvsNetlink | undefined;
        try {
          driver = await IpvsNetlink.open();
          const table = await readTable(driver);
          process.stdout.write(options.save ? formatSave(table) : formatList(table, { info: await driver.info() }));
        } catch (error) {
          console.error(`tandem ipvs: ${(error as Error).message}`);
          process.exitCode = ExitCode.failure;
        } finally {
          driver?.close();
        }
      });
  },
};
