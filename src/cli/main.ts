#!/usr/bin/env -S node --single-threaded-gc
import { tandemProgram } from './program.js';

await tandemProgram().parseAsync(process.argv);
