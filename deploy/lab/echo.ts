// A UDP responder for the lab and the demo: answers every datagram on ADDRESS:PORT
// with `NAME <the datagram>`, so a prober sees which director holds the VIP. The
// address may be one this host does not hold yet (the namespace sets
// net.ipv4.ip_nonlocal_bind=1): the responder then answers once the VIP arrives.
//   node --import tsx deploy/lab/echo.ts ADDRESS PORT NAME
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const [address, port, name] = process.argv.slice(2);
if (!address || !port || !name) {
  console.error('usage: echo.ts ADDRESS PORT NAME');
  process.exit(2);
}
const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
socket.on('message', (message, from) => socket.send(Buffer.concat([Buffer.from(`${name} `), message]), from.port, from.address));
socket.on('error', (error) => {
  console.error(`echo: ${error.message}`);
  process.exit(1);
});
socket.bind(Number(port), address, () => console.log(`echo listening on ${address}:${port}`));
process.on('SIGTERM', () => process.exit(0));
