import { parseArgs } from "node:util";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { isEmail, ticketTextProblem } from "./http/validation.ts";
import { ListenError, serve } from "./server.ts";
import { openDatabase, migrate } from "./store/db.ts";
import { EmailTakenError, ROLES, type Role } from "./store/users.ts";
import { createUser } from "./users.ts";
import { systemClock } from "./runtime/engine.ts";
import { UsageError, jobsCommand } from "./jobs-cli.ts";

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
      try {
        await serve(config, log);
      } catch (err) {
        if (!(err instanceof ListenError)) throw err;
        console.error(`admit: ${err.message}`);
        return 1;
      }
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

const USER_OPTIONS = {
  email: { type: "string" },
  role: { type: "string" },
  name: { type: "string" },
} as const;

type UserOptions = { -readonly [K in keyof typeof USER_OPTIONS]?: string };

/**
 * Parses the options of `users add`. Its errors name the option but never
 * repeat an argument, which could be a password typed in the wrong place.
 */
function parseUserOptions(args: string[]): UserOptions {
  const { tokens } = parseArgs({
    args,
    options: USER_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const values: UserOptions = {};
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw new UsageError("unexpected argument; options take the form --email VALUE");
    }
    if (token.kind !== "option") continue;
    if (!Object.hasOwn(USER_OPTIONS, token.name)) {
      throw new UsageError(`unknown option ${token.rawName}`);
    }
    // A value that starts with "-" is most likely the next option, so the value is missing.
    const missing = token.value === undefined ||
      (!token.inlineValue && token.value.startsWith("-"));
    if (missing) throw new UsageError(`${token.rawName} requires a value`);
    values[token.name as keyof UserOptions] = token.value;
  }
  return values;
}

/** Checks the options of `users add`; throws UsageError naming the option at fault. */
function checkUserOptions(values: UserOptions): { email: string; role: Role; name: string } {
  const { email, role } = values;
  if (email === undefined || role === undefined) {
    throw new UsageError("--email and --role are required");
  }
  if (!ROLES.includes(role as Role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
  }
  if (!isEmail(email)) {
    throw new UsageError("--email must be an email address such as ada@example.com");
  }

  const name = values.name ?? email;
  const problem = ticketTextProblem(name);
  if (problem !== null) {
    const option = values.name === undefined ? "--email, the default name," : "--name";
    throw new UsageError(`${option} ${problem}`);
  }
  return { email, role: role as Role, name };
}

async function usersCommand(argv: string[], config: Config): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "add") {
    console.error(USAGE);
    return 2;
  }
  let input: { email: string; role: Role; name: string };
  try {
    input = checkUserOptions(parseUserOptions(rest));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`admit users add: ${err.message}\n${USAGE}`);
    return 2;
  }

  const password = await readPassword();
  const db = openDatabase(config.dataDir);
  try {
    const user = await createUser({ db, clock: systemClock }, { ...input, password });
    console.log(`created ${user.role} ${user.email} (${user.id})`);
    return 0;
  } catch (err) {
    if (err instanceof EmailTakenError) {
      console.error(`admit users add: a user with email ${input.email} already exists`);
      return 1;
    }
    console.error(`admit users add: ${(err as Error).message}`);
    return 1;
  } finally {
    db.close();
  }
}
