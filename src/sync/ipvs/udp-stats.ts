// A UDP socket's receive queue and drop count as /proc/net/udp shows them: the only
// view of the kernel's own backup daemon socket (how full it is, whether it dropped),
// and of tandem's reader, whose drops node cannot report.

export interface UdpSocketStats {
  /** Bytes waiting in the receive queue (sk_rmem_alloc). */
  readonly receiveQueue: number;
  /** Datagrams dropped since the socket was made. */
  readonly drops: number;
}

/** `0100007F:1F90` for 127.0.0.1:8080: the address as the kernel's u32 in host (little-endian) order. */
function localAddressColumn(address: string, port: number): string {
  const octets = address.split('.').map(Number).reverse();
  const hex = octets.map((octet) => octet.toString(16).padStart(2, '0')).join('');
  return `${hex}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
}

/** The sockets bound to address:port in a /proc/net/udp text, summed (the master and the
 *  backup daemon of one netns never share a port; several readers may). */
export function udpSocketStats(procText: string, address: string, port: number): UdpSocketStats | undefined {
  const wanted = localAddressColumn(address, port);
  let found: { receiveQueue: number; drops: number } | undefined;
  for (const line of procText.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns[1] !== wanted) continue;
    const receiveQueue = parseInt(columns[4]?.split(':')[1] ?? '', 16);
    const drops = Number(columns[columns.length - 1]);
    if (Number.isNaN(receiveQueue) || Number.isNaN(drops)) continue;
    found = { receiveQueue: (found?.receiveQueue ?? 0) + receiveQueue, drops: (found?.drops ?? 0) + drops };
  }
  return found;
}
