// A full garbage collection on demand, for the tests that hold code to letting go of what it
// no longer needs (weak references) and the benchmarks that measure live memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const collectGarbage = runInNewContext('gc') as () => void;
