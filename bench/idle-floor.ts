// The floor under tandem's idle cost: a bare Node program doing only what the
// heartbeat path must, run under the daemon's node flags. Every 10 ms one timer;
// per path one datagram of a heartbeat's size signed with HMAC-SHA256 and sent on
// a connected UDP socket; every datagram received has its MAC checked. Whatever
// tandem costs above this is its own.

/** A heartbeat datagram's size at 10 ms in the lab (preamble, envelope, payload, MAC). */
const datagramBytes = 200;
const macBytes = 32;

/** The program (an ES module for `node --input-type=module -e`); args: keepalive ms, then local and remote address per path. */
export const floorScript = `
import { createSocket } from 'node:dgram';
import { createHmac, timingSafeEqual } from 'node:crypto';
const [keepalive, ...addresses] = process.argv.slice(1);
const key = Buffer.alloc(32, 7);
const port = 539;
const bodyBytes = ${datagramBytes - macBytes};
let seq = 0;
let accepted = 0;
let rejected = 0;
const sockets = [];
for (let i = 0; i < addresses.length; i += 2) {
  const socket = createSocket('udp4');
  await new Promise((resolve) => socket.bind({ address: addresses[i], port, exclusive: true }, resolve));
  await new Promise((resolve) => socket.connect(port, addresses[i + 1], resolve));
  socket.on('message', (datagram) => {
    const signedEnd = datagram.length - ${macBytes};
    const mac = createHmac('sha256', key).update(datagram.subarray(0, signedEnd)).digest();
    if (timingSafeEqual(mac, datagram.subarray(signedEnd))) accepted++;
    else rejected++;
  });
  socket.on('error', () => undefined);
  sockets.push(socket);
}
let due = performance.now();
const tick = () => {
  for (const socket of sockets) {
    const body = Buffer.alloc(bodyBytes);
    body.writeUInt32BE(++seq, 0);
    socket.send(Buffer.concat([body, createHmac('sha256', key).update(body).digest()]));
  }
  // on the deadline, as the daemon's timer: a fixed delay after each tick would drift to fewer ticks
  due += Number(keepalive);
  setTimeout(tick, Math.max(0, Math.ceil(due - performance.now())));
};
tick();
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ sent: seq, accepted, rejected }));
  process.exit(0);
});
console.log('ready');
`;
