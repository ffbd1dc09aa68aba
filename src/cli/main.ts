#!/usr/bin/env node
// The `trellis` command: dispatches to one module per subcommand, loaded only when used.
import { commandTable, runCommand } from "./commands.js";

const [name, ...args] = process.argv.slice(2);
process.exitCode = await runCommand(commandTable, name, args);
