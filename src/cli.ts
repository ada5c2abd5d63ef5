#!/usr/bin/env bun
/**
 * The admit command line, in the same binary as the service:
 *   admit [serve]                          start the service (the default)
 *   admit migrate                          apply schema migrations and exit
 *   admit users add --email E --role R [--name N]   password from stdin or a prompt
 *   admit jobs list [--state dead|retrying|scheduled|running]
 *   admit jobs retry ID | --all
 *   admit jobs discard ID
 */
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { runCommand } from "./commands.ts";

async function main(argv: string[]): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`admit: invalid configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  return runCommand(argv, config, log);
}

const code = await main(process.argv.slice(2));
if (code !== -1) process.exit(code);
