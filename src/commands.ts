import { parseArgs } from "node:util";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { serve } from "./server.ts";
import { openDatabase, migrate } from "./store/db.ts";
import { ROLES, type Role } from "./store/users.ts";
import { createUser } from "./users.ts";
import { systemClock } from "./runtime/engine.ts";
import { jobsCommand } from "./jobs-cli.ts";

/** Exit code meaning "keep running": the service owns the process from here. */
export const KEEP_RUNNING = -1;

const USAGE = `usage: admit [serve | migrate | users add | jobs list|retry|discard]
  admit users add --email EMAIL --role student|organizer|admin [--name NAME]
      reads the password from standard input, or prompts for it
  admit jobs list [--state dead|retrying|scheduled|running] [--json]
  admit jobs retry ID | --all
  admit jobs discard ID`;

/** Runs one CLI command; returns the exit code, or KEEP_RUNNING for `serve`. */
export async function runCommand(argv: string[], config: Config, log: Logger): Promise<number> {
  const [command = "serve", ...rest] = argv;
  switch (command) {
    case "serve":
      await serve(config, log);
      return KEEP_RUNNING;
    case "migrate": {
      const db = openDatabase(config.dataDir);
      const version = migrate(db);
      db.close();
      console.log(`schema at version ${version}`);
      return 0;
    }
    case "users":
      return usersCommand(rest, config);
    case "jobs":
      return jobsCommand(rest, config);
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default:
      console.error(`admit: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const answer = prompt("Password:");
    return answer ?? "";
  }
  const text = await Bun.stdin.text();
  return text.replace(/\r?\n$/, "");
}

async function usersCommand(argv: string[], config: Config): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "add") {
    console.error(USAGE);
    return 2;
  }
  let values: { email?: string; role?: string; name?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { email: { type: "string" }, role: { type: "string" }, name: { type: "string" } },
      strict: true,
    }));
  } catch {
    // The message could repeat a value typed by mistake, such as a password.
    console.error(`admit users add: unknown or malformed option\n${USAGE}`);
    return 2;
  }
  if (values.email === undefined || values.role === undefined) {
    console.error("admit users add: --email and --role are required");
    return 2;
  }
  if (!ROLES.includes(values.role as Role)) {
    console.error(`admit users add: --role must be one of ${ROLES.join(", ")}`);
    return 2;
  }

  const password = await readPassword();
  const db = openDatabase(config.dataDir);
  try {
    const user = await createUser(
      { db, clock: systemClock },
      {
        email: values.email,
        name: values.name ?? values.email,
        password,
        role: values.role as Role,
      },
    );
    console.log(`created ${user.role} ${user.email} (${user.id})`);
    return 0;
  } catch (err) {
    console.error(`admit users add: ${(err as Error).message}`);
    return 1;
  } finally {
    db.close();
  }
}
