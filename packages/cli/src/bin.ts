#!/usr/bin/env node
import { runPatchlens } from './main.js';

process.exitCode = await runPatchlens(process.argv.slice(2));
