// The CLI side of the control socket: one request, errors as one line on stderr.
import { sendControlRequest, type ControlCommand, type ControlResponse } from '../control/index.js';
import { ExitCode } from './command.js';

export async function ask(socket: string, command: ControlCommand, timeoutMs?: number): Promise<ControlResponse | undefined> {
  try {
    const response = await sendControlRequest(socket, { command }, timeoutMs);
    if (!response.ok && 'code' in response && response.code === 'bad-request') {
      process.stderr.write(`tandem: the daemon did not understand the request: ${response.message}\n`);
      process.exitCode = ExitCode.failure;
      return undefined;
    }
    return response;
  } catch (error) {
    process.stderr.write(`tandem: ${(error as Error).message}\n`);
    process.exitCode = ExitCode.failure;
    return undefined;
  }
}
