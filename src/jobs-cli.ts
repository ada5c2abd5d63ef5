import type { Config } from "./config.ts";

/** `admit jobs …`: list, redrive and discard mail deliveries. */
export async function jobsCommand(_argv: string[], _config: Config): Promise<number> {
  console.error("admit jobs: not available in this build");
  return 2;
}
