// Numbers of the kernel's IPVS generic netlink family, from include/uapi/linux/ip_vs.h
// (those tandem uses).
// Attribute encodings follow net/netfilter/ipvs/ip_vs_ctl.c (ip_vs_*_policy and the
// ip_vs_genl_parse_* / ip_vs_genl_fill_* functions): ports and IPv4 netmasks travel
// in network byte order, everything else in host order.

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const Command = {
  newService: 1,
  setService: 2,
  delService: 3,
  getService: 4,
  newDest: 5,
  setDest: 6,
  delDest: 7,
  getDest: 8,
  newDaemon: 9,
  delDaemon: 10,
  getDaemon: 11,
  setConfig: 12,
  getConfig: 13,
  getInfo: 15,
  flush: 17,
} as const;

/** First-level attributes (IPVS_CMD_ATTR_*). */
export const CommandAttr = {
  service: 1,
  dest: 2,
  daemon: 3,
  timeoutTcp: 4,
  timeoutTcpFin: 5,
  timeoutUdp: 6,
} as const;

/** Inside IPVS_CMD_ATTR_SERVICE (IPVS_SVC_ATTR_*). */
export const ServiceAttr = {
  af: 1,
  protocol: 2,
  addr: 3,
  port: 4,
  fwmark: 5,
  schedName: 6,
  flags: 7,
  timeout: 8,
  netmask: 9,
  peName: 11,
} as const;

/** Inside IPVS_CMD_ATTR_DEST (IPVS_DEST_ATTR_*). */
export const DestAttr = {
  addr: 1,
  port: 2,
  fwdMethod: 3,
  weight: 4,
  upperThreshold: 5,
  lowerThreshold: 6,
  activeConns: 7,
  inactiveConns: 8,
  persistentConns: 9,
  addrFamily: 11,
  tunType: 13,
  tunPort: 14,
  tunFlags: 15,
} as const;

/** Inside IPVS_CMD_ATTR_DAEMON (IPVS_DAEMON_ATTR_*). */
export const DaemonAttr = {
  state: 1,
  mcastInterface: 2,
  syncId: 3,
  syncMaxLength: 4,
  mcastGroup: 5,
  mcastGroup6: 6,
  mcastPort: 7,
  mcastTtl: 8,
} as const;

/** Reply to IPVS_CMD_GET_INFO (IPVS_INFO_ATTR_*). */
export const InfoAttr = {
  version: 1,
  connTableSize: 2,
} as const;

/** The highest attribute number of each level this code knows (IPVS_*_ATTR_MAX);
 *  newer kernels' additions are skipped when reading. */
export const maxAttribute = { command: 6, service: 12, dest: 15, daemon: 8, info: 2 } as const;

/** Virtual service flags (IP_VS_SVC_F_*). */
export const ServiceFlag = {
  persistent: 0x0001,
  onePacket: 0x0004,
  /** IP_VS_SVC_F_SCHED1..3: meaning depends on the scheduler (sh: fallback, port). */
  schedulerMask: 0x0038,
} as const;

/** Forwarding methods (IP_VS_CONN_F_* under IP_VS_CONN_F_FWD_MASK). */
export const Forward = { masq: 0, local: 1, tunnel: 2, route: 3, mask: 0x7 } as const;

/** IP_VS_CONN_F_TUNNEL_TYPE_*, by number (kernel 5.3+). */
export const tunnelTypes = ['ipip', 'gue', 'gre'] as const;

/** IP_VS_TUNNEL_ENCAP_FLAG_*: no flag means no checksum. */
export const TunnelFlag = { csum: 0x1, remcsum: 0x2 } as const;

/** IP_VS_STATE_*. */
export const DaemonState = { master: 1, backup: 2 } as const;

/** IP_VS_IFNAME_MAXLEN, IP_VS_SCHEDNAME_MAXLEN and IP_VS_PENAME_MAXLEN, all including the NUL. */
export const IFNAME_MAX = 16;
export const SCHEDNAME_MAX = 16;
export const PENAME_MAX = 16;
