// ctnetlink's numbers, from the kernel's uapi headers (linux/netfilter/nfnetlink.h,
// nfnetlink_conntrack.h, nf_conntrack_common.h, nf_conntrack_tcp.h).

export const NETLINK_NETFILTER = 12;
export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNETLINK_V0 = 0;
/** struct nfgenmsg: family, version, resource id (big endian). */
export const NFGENMSG_LENGTH = 4;

export const MessageType = {
  new: (NFNL_SUBSYS_CTNETLINK << 8) | 0,
  get: (NFNL_SUBSYS_CTNETLINK << 8) | 1,
  delete: (NFNL_SUBSYS_CTNETLINK << 8) | 2,
} as const;

export const Group = { new: 1, update: 2, destroy: 3 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Set on an attribute holding attributes (NLA_F_NESTED). */
export const NESTED = 0x8000;

export const Cta = {
  tupleOrig: 1,
  tupleReply: 2,
  status: 3,
  protoinfo: 4,
  natSrc: 6,
  timeout: 7,
  mark: 8,
  natDst: 13,
  zone: 18,
  max: 26,
} as const;

export const CtaTuple = { ip: 1, proto: 2, max: 3 } as const;
export const CtaIp = { v4Src: 1, v4Dst: 2, v6Src: 3, v6Dst: 4, max: 4 } as const;
export const CtaProto = {
  num: 1,
  srcPort: 2,
  dstPort: 3,
  icmpId: 4,
  icmpType: 5,
  icmpCode: 6,
  icmpv6Id: 7,
  icmpv6Type: 8,
  icmpv6Code: 9,
  max: 9,
} as const;
export const CtaProtoinfo = { tcp: 1, max: 3 } as const;
export const CtaProtoinfoTcp = { state: 1, wscaleOriginal: 2, wscaleReply: 3, flagsOriginal: 4, flagsReply: 5, max: 5 } as const;
export const CtaNat = { v4MinIp: 1, v4MaxIp: 2, proto: 3, v6MinIp: 4, v6MaxIp: 5 } as const;
export const CtaProtoNat = { portMin: 1, portMax: 2 } as const;

/** enum ip_conntrack_status bits. */
export const Status = {
  expected: 1 << 0,
  seenReply: 1 << 1,
  assured: 1 << 2,
  confirmed: 1 << 3,
  srcNat: 1 << 4,
  dstNat: 1 << 5,
  dying: 1 << 9,
} as const;

/** struct nf_ct_tcp_flags bits (IP_CT_TCP_FLAG_*). */
export const TcpFlag = { windowScale: 0x01, sackPerm: 0x02, beLiberal: 0x08 } as const;
/** enum tcp_conntrack: states past this are not states. */
export const TCP_CONNTRACK_MAX = 10;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_ICMPV6 = 58;
