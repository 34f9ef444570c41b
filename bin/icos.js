#!/usr/bin/env node
// Entry point: runs the compiled CLI (`npm run build` makes dist/).
import "../dist/cli/main.js";
