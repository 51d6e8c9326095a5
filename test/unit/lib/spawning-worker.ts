// A helper thread that starts a process, as the balancer's starts check programs: it
// answers with the nice value the process began with (field 19 of /proc/<pid>/stat).
import { execFileSync } from 'node:child_process';
import { parentPort } from 'node:worker_threads';

const stat = execFileSync('sh', ['-c', 'cat /proc/$$/stat'], { encoding: 'utf8' });
const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
// fields from the third of /proc/<pid>/stat on: nice is the 19th
parentPort?.postMessage(Number(fields[19 - 3]));
