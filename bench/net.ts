// How soon after an address is claimed does its first announcement reach the wire?
// A director namespace adds fresh addresses and announces each one — through the
// packet addon (what tandem does) or by running iputils arping (the alternative) —
// while tcpdump on a neighbour namespace timestamps the frames as they arrive. The
// figures back the choice in the README ("Gratuitous ARP").
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab, type Host } from '../test/support/netns.js';
import { formatSummary, type Benchmark } from './benchmark.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/announce-timing.ts', import.meta.url));
const RUNS = 30;

interface Run {
  address: string;
  requested: number;
  added: number;
}

function hasArping(): boolean {
  try {
    execFileSync('arping', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function measure(lab: Lab, director: Host, observer: Host, method: string, addresses: string[]): Promise<void> {
  const wire = await lab.watch(observer, 'tcpdump', ['-l', '-n', '-tt', '--immediate-mode', '-i', 'eth0', 'arp or icmp6'], /listening on/);
  const { stdout } = await lab.exec(director, process.execPath, ['--import', 'tsx', FIXTURE, method, ...addresses]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await wire.stop();
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Partial<Run> & { arpingFailures?: number; arpingRuntimes?: number[] });
  const runs = lines.filter((l): l is Run => l.address !== undefined);
  const firstFrame = new Map<string, number>();
  for (const line of wire.lines) {
    const match = /^(\d+\.\d+) .*(?:who-has (\S+) tell \2|Reply (\S+) is-at|tgt is (\S+),)/.exec(line);
    const address = match?.[2] ?? match?.[3] ?? match?.[4];
    if (match && address && !firstFrame.has(address)) firstFrame.set(address, Number(match[1]) * 1000);
  }
  const seen = runs.filter((r) => firstFrame.has(r.address));
  const fromRequest = seen.map((r) => firstFrame.get(r.address)! - r.requested);
  const fromAck = seen.map((r) => firstFrame.get(r.address)! - r.added);
  const arping = lines.find((l) => l.arpingRuntimes !== undefined);
  console.log(`${method}: ${seen.length}/${runs.length} addresses seen on the wire`);
  console.log(`  ${formatSummary('add requested -> first frame', fromRequest)}`);
  console.log(`  ${formatSummary('address added -> first frame', fromAck)}`);
  if (method === 'arping' && arping?.arpingRuntimes) {
    console.log(
      `  ${formatSummary(`arping process lifetime (${arping.arpingFailures} of ${arping.arpingRuntimes.length} failed)`, arping.arpingRuntimes)}`,
    );
  }
}

export const netBenchmark: Benchmark = {
  name: 'net',
  description: `time from "address add requested" to the first announcement on the wire (${RUNS} runs per method)`,
  async run() {
    const lab = await Lab.create();
    try {
      const sw = await lab.addSwitch('sw0');
      const director = await lab.addHost('ifw01');
      const observer = await lab.addHost('xcl01');
      await lab.connect(director, 'eth0', sw, ['192.0.2.1/24']);
      await lab.connect(observer, 'eth0', sw, ['192.0.2.50/24']);
      const range = (prefix: string, from: number) => Array.from({ length: RUNS }, (_, i) => `${prefix}${from + i}`);
      await measure(lab, director, observer, 'addon-arp', range('192.0.2.', 100));
      if (hasArping()) await measure(lab, director, observer, 'arping', range('192.0.2.', 150));
      else console.log('arping: not installed (apt-get install iputils-arping) - skipped');
      await measure(lab, director, observer, 'addon-na', range('2001:db8::', 100));
    } finally {
      await lab.destroy();
    }
  },
};
