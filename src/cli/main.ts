#!/usr/bin/env -S node --single-threaded-gc --max-semi-space-size=1 --v8-pool-size=1 --no-memory-reducer
import { tandemProgram } from './program.js';

await tandemProgram().parseAsync(process.argv);
