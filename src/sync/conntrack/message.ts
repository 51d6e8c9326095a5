// ctnetlink messages for one conntrack entry: decoded from a dump or an event, and built
// for IPCTNL_MSG_CT_NEW. A committed entry carries its NAT binding the way
// libnetfilter_conntrack sends it: the reply tuple as if untranslated and the binding in
// CTA_NAT_SRC / CTA_NAT_DST, so the kernel sets the binding up (nf_nat_setup_info) and
// translates the flow's packets; a reply tuple alone would leave them untranslated.
import { formatIp, ipBytes, type IpFamily } from '../../lib/address.js';
import { AttributeReader, AttributeWriter } from '../../lib/netlink-attributes.js';
import type { ConntrackEntry, ConntrackTuple, TcpState } from './entry.js';
import { isIcmp } from './record.js';
import {
  AF_INET,
  AF_INET6,
  Cta,
  CtaIp,
  CtaNat,
  CtaProto,
  CtaProtoinfo,
  CtaProtoinfoTcp,
  CtaProtoNat,
  CtaTuple,
  NESTED,
  NFGENMSG_LENGTH,
  NFNETLINK_V0,
  Status,
  TcpFlag,
} from './uapi.js';

/** One entry from the payload (after the netlink header) of a dump reply or an event. */
export function decodeConntrackMessage(payload: Buffer): ConntrackEntry {
  if (payload.length < NFGENMSG_LENGTH) throw new Error(`ctnetlink message of ${payload.length} bytes`);
  const addressFamily = payload.readUInt8(0);
  if (addressFamily !== AF_INET && addressFamily !== AF_INET6) throw new Error(`ctnetlink message of address family ${addressFamily}`);
  const family: IpFamily = addressFamily === AF_INET ? 4 : 6;
  const attributes = new AttributeReader(payload.subarray(NFGENMSG_LENGTH), Cta.max);
  const original = readTuple(attributes.nested(Cta.tupleOrig, CtaTuple.max), family);
  const reply = readTuple(attributes.nested(Cta.tupleReply, CtaTuple.max), family);
  if (original.protocol !== reply.protocol) throw new Error('ctnetlink tuples of different protocols');
  const tcp = attributes.has(Cta.protoinfo) ? readTcp(attributes.nested(Cta.protoinfo, CtaProtoinfo.max)) : undefined;
  return {
    family,
    protocol: original.protocol,
    original: original.tuple,
    reply: reply.tuple,
    status: attributes.has(Cta.status) ? attributes.be32(Cta.status) : 0,
    timeoutSeconds: attributes.has(Cta.timeout) ? attributes.be32(Cta.timeout) : 0,
    mark: attributes.has(Cta.mark) ? attributes.be32(Cta.mark) : 0,
    zone: attributes.has(Cta.zone) ? attributes.be16(Cta.zone) : 0,
    ...(tcp && { tcp }),
  };
}

function readTuple(tuple: AttributeReader, family: IpFamily): { protocol: number; tuple: ConntrackTuple } {
  const ip = tuple.nested(CtaTuple.ip, CtaIp.max);
  const [sourceType, destinationType] = family === 4 ? [CtaIp.v4Src, CtaIp.v4Dst] : [CtaIp.v6Src, CtaIp.v6Dst];
  const source = formatIp(ip.bytes(sourceType), family);
  const destination = formatIp(ip.bytes(destinationType), family);
  const proto = tuple.nested(CtaTuple.proto, CtaProto.max);
  const protocol = proto.u8(CtaProto.num);
  if (isIcmp(family, protocol)) {
    const [id, type, code] =
      family === 4
        ? [CtaProto.icmpId, CtaProto.icmpType, CtaProto.icmpCode]
        : [CtaProto.icmpv6Id, CtaProto.icmpv6Type, CtaProto.icmpv6Code];
    return {
      protocol,
      tuple: {
        source,
        destination,
        sourcePort: 0,
        destinationPort: 0,
        icmp: { id: proto.be16(id), type: proto.u8(type), code: proto.u8(code) },
      },
    };
  }
  const port = (type: number) => (proto.has(type) ? proto.be16(type) : 0);
  return { protocol, tuple: { source, destination, sourcePort: port(CtaProto.srcPort), destinationPort: port(CtaProto.dstPort) } };
}

function readTcp(protoinfo: AttributeReader): TcpState | undefined {
  if (!protoinfo.has(CtaProtoinfo.tcp)) return undefined;
  const tcp = protoinfo.nested(CtaProtoinfo.tcp, CtaProtoinfoTcp.max);
  const u8 = (type: number) => (tcp.has(type) ? tcp.u8(type) : 0);
  // struct nf_ct_tcp_flags: the flags byte, then a mask byte the kernel leaves empty
  const flags = (type: number) => (tcp.has(type) ? (tcp.bytes(type)[0] ?? 0) : 0);
  return {
    state: u8(CtaProtoinfoTcp.state),
    windowScaleOriginal: u8(CtaProtoinfoTcp.wscaleOriginal),
    windowScaleReply: u8(CtaProtoinfoTcp.wscaleReply),
    flagsOriginal: flags(CtaProtoinfoTcp.flagsOriginal),
    flagsReply: flags(CtaProtoinfoTcp.flagsReply),
  };
}

/** The nfgenmsg header of a request about entries of `family` (0: every family). */
export function nfgenmsg(family: IpFamily | 0): Buffer {
  const header = Buffer.alloc(NFGENMSG_LENGTH);
  header.writeUInt8(family === 0 ? 0 : family === 4 ? AF_INET : AF_INET6, 0);
  header.writeUInt8(NFNETLINK_V0, 1);
  return header;
}

/** IPCTNL_MSG_CT_NEW creating the entry, NAT binding included. */
export function buildCreate(entry: ConntrackEntry): Buffer[] {
  const out = new AttributeWriter();
  const natted = (entry.status & (Status.srcNat | Status.dstNat)) !== 0;
  putTuple(out, Cta.tupleOrig, entry.original, entry);
  putTuple(out, Cta.tupleReply, natted ? untranslatedReply(entry) : entry.reply, entry);
  // SNAT (masquerade) rewrote the reply's destination, DNAT its source
  if (entry.status & Status.srcNat) putNat(out, Cta.natSrc, entry.reply.destination, replyPort(entry, 'destination'), entry.family);
  if (entry.status & Status.dstNat) putNat(out, Cta.natDst, entry.reply.source, replyPort(entry, 'source'), entry.family);
  out.be32(Cta.timeout, entry.timeoutSeconds);
  // The kernel refuses to set EXPECTED or DYING and to clear CONFIRMED (which it sets itself).
  out.be32(Cta.status, (entry.status & ~(Status.expected | Status.dying)) | Status.confirmed);
  putCommon(out, entry);
  return [nfgenmsg(entry.family), out.toBuffer()];
}

/** IPCTNL_MSG_CT_NEW refreshing an entry the kernel has already: NAT and status are
 *  fixed once an entry exists, the rest is brought up to date. */
export function buildUpdate(entry: ConntrackEntry): Buffer[] {
  const out = new AttributeWriter();
  putTuple(out, Cta.tupleOrig, entry.original, entry);
  out.be32(Cta.timeout, entry.timeoutSeconds);
  putCommon(out, entry);
  return [nfgenmsg(entry.family), out.toBuffer()];
}

function putCommon(out: AttributeWriter, entry: ConntrackEntry): void {
  if (entry.mark !== 0) out.be32(Cta.mark, entry.mark);
  if (entry.zone !== 0) out.be16(Cta.zone, entry.zone);
  const { tcp } = entry;
  if (tcp === undefined) return;
  out.nest(Cta.protoinfo | NESTED, () =>
    out.nest(CtaProtoinfo.tcp | NESTED, () => {
      out.u8(CtaProtoinfoTcp.state, tcp.state);
      out.u8(CtaProtoinfoTcp.wscaleOriginal, tcp.windowScaleOriginal);
      out.u8(CtaProtoinfoTcp.wscaleReply, tcp.windowScaleReply);
      // The windows' edges are not synced: like conntrackd, the committed flow is tracked
      // liberally rather than have its next packets judged out of window.
      out.bytes(CtaProtoinfoTcp.flagsOriginal, Uint8Array.of(tcp.flagsOriginal | TcpFlag.beLiberal, 0xff));
      out.bytes(CtaProtoinfoTcp.flagsReply, Uint8Array.of(tcp.flagsReply | TcpFlag.beLiberal, 0xff));
    }),
  );
}

function putTuple(out: AttributeWriter, type: number, tuple: ConntrackTuple, entry: ConntrackEntry): void {
  out.nest(type | NESTED, () => {
    out.nest(CtaTuple.ip | NESTED, () => {
      out.bytes(entry.family === 4 ? CtaIp.v4Src : CtaIp.v6Src, ipBytes(tuple.source));
      out.bytes(entry.family === 4 ? CtaIp.v4Dst : CtaIp.v6Dst, ipBytes(tuple.destination));
    });
    out.nest(CtaTuple.proto | NESTED, () => {
      out.u8(CtaProto.num, entry.protocol);
      if (tuple.icmp) {
        const v4 = entry.family === 4;
        out.be16(v4 ? CtaProto.icmpId : CtaProto.icmpv6Id, tuple.icmp.id);
        out.u8(v4 ? CtaProto.icmpType : CtaProto.icmpv6Type, tuple.icmp.type);
        out.u8(v4 ? CtaProto.icmpCode : CtaProto.icmpv6Code, tuple.icmp.code);
      } else {
        out.be16(CtaProto.srcPort, tuple.sourcePort);
        out.be16(CtaProto.dstPort, tuple.destinationPort);
      }
    });
  });
}

/** The reply the flow would have without NAT: the original, reversed. ICMP keeps the
 *  reply's type (an echo request's reply is an echo reply). */
function untranslatedReply({ original, reply }: ConntrackEntry): ConntrackTuple {
  return {
    source: original.destination,
    destination: original.source,
    sourcePort: original.destinationPort,
    destinationPort: original.sourcePort,
    ...(original.icmp && reply.icmp && { icmp: { ...reply.icmp, id: original.icmp.id } }),
  };
}

/** The translated port (for ICMP, the identifier NAT translates instead). */
function replyPort({ reply }: ConntrackEntry, end: 'source' | 'destination'): number {
  if (reply.icmp) return reply.icmp.id;
  return end === 'source' ? reply.sourcePort : reply.destinationPort;
}

function putNat(out: AttributeWriter, type: number, address: string, port: number, family: IpFamily): void {
  out.nest(type | NESTED, () => {
    const bytes = ipBytes(address);
    out.bytes(family === 4 ? CtaNat.v4MinIp : CtaNat.v6MinIp, bytes);
    out.bytes(family === 4 ? CtaNat.v4MaxIp : CtaNat.v6MaxIp, bytes);
    if (port === 0) return; // a protocol without ports: the addresses are the binding
    out.nest(CtaNat.proto | NESTED, () => {
      out.be16(CtaProtoNat.portMin, port);
      out.be16(CtaProtoNat.portMax, port);
    });
  });
}
