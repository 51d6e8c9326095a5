// The control socket's protocol: a unix socket only root can open (mode 0600), one
// JSON request line in, one JSON response line out. `tandem status`, `failover`,
// `takeover`, `standby`, `resume` and `reload` are its clients.
import type { OperatorCommand, RefusalCode, Role } from '../cluster/index.js';
import type { Diagnostic } from '../config/index.js';
import type { ServiceList, ServiceStatus } from '../ipvs/index.js';
import type { ConnsListing } from '../sync/index.js';
import type { DaemonStatus } from './status.js';

export const defaultSocketPath = '/run/tandem/tandem.sock';

export type ControlCommand = 'status' | 'reload' | 'conns' | OperatorCommand;
export const controlCommands: readonly ControlCommand[] = ['status', 'failover', 'takeover', 'standby', 'resume', 'reload', 'conns'];

export interface ControlRequest {
  command: ControlCommand;
}

export interface OperatorOutcome {
  ok: boolean;
  /** Why it was refused or failed. */
  code?: RefusalCode;
  message: string;
  /** This node's role when the request finished. */
  role: Role;
  /** From the request to the answer (for failover: until the peer was seen ACTIVE). */
  durationMs: number;
}

export interface ReloadOutcome {
  ok: boolean;
  /** invalid-config: the file has errors (in `diagnostics`); restart-needed: it changes who the nodes are or how they talk. */
  code?: 'invalid-config' | 'restart-needed' | 'self-stopping';
  message: string;
  /** What changed, one line each; applied when ok. */
  changes: string[];
  /** The file's errors and warnings. */
  diagnostics: Diagnostic[];
  /** The serial number running after the request. */
  serialNo: number;
  durationMs: number;
}

/** `Services` as in DaemonStatus. */
export type ControlResponse<Services extends ServiceList = ServiceStatus[]> =
  | { ok: true; command: 'status'; status: DaemonStatus<Services> }
  | ({ command: OperatorCommand } & OperatorOutcome)
  | ({ command: 'reload' } & ReloadOutcome)
  | { ok: true; command: 'conns'; conns: ConnsListing }
  | { ok: false; command?: string; code: ControlRefusal | 'internal-error'; message: string };

/**
 * Why the control socket refused a connection or request without asking the daemon:
 * counted per reason (tandem_control_refused_total). `idle` and `busy` close the
 * connection; the others answer first.
 */
export const controlRefusals = ['bad-request', 'forbidden', 'busy', 'idle'] as const;
export type ControlRefusal = (typeof controlRefusals)[number];

/** What answers the requests: the daemon. */
export interface ControlHandler {
  status(): DaemonStatus<ServiceList> | Promise<DaemonStatus<ServiceList>>;
  operator(command: OperatorCommand): Promise<OperatorOutcome>;
  reload(): Promise<ReloadOutcome>;
  /** What connection sync holds (`tandem conns`); absent: the request is refused. */
  conns?(): ConnsListing;
}
