import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pdfText } from "./support/pdf.ts";

const ROOT = resolve(import.meta.dir, "..");

/** Entry that mirrors src/cli.ts: it sits at the build root, src/. */
const ENTRY = `
import { RenderPool } from "./ticket/pool.ts";

const pool = new RenderPool(1);
const pdf = await pool.render({
  ticketId: "3f2a9c1e-7b40-4d2e-9a61-0c5b8e7d1f23",
  eventTitle: "Compiled",
  startsAt: "2025-03-14T18:00:00Z",
  timeZone: "Europe/Vienna",
  venue: "Hall",
  attendeeName: "Zoë 王小明 محمد",
  token: "ADM1.compiled",
});
await Bun.write(process.argv[2] ?? "ticket.pdf", pdf);
await pool.close();
`;

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "admit-compile-"));
  mkdirSync(join(project, "src"));
  cpSync(join(ROOT, "src", "ticket"), join(project, "src", "ticket"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
  writeFileSync(join(project, "src", "cli.ts"), ENTRY);
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

describe("compiled binary", () => {
  test("renders with embedded worker and fonts", () => {
    const binary = join(project, "admit");
    const entrypoints = ["src/cli.ts", "src/ticket/render-worker.ts"];
    const build = Bun.spawnSync(
      [process.execPath, "build", "--compile", ...entrypoints, "--outfile", binary],
      { cwd: project, stdout: "pipe", stderr: "pipe" },
    );
    expect(build.exitCode, build.stderr.toString()).toBe(0);

    // Run from / so that nothing can be loaded from the source tree.
    const output = join(project, "out.pdf");
    const run = Bun.spawnSync([binary, output], { cwd: "/", stdout: "pipe", stderr: "pipe" });
    expect(run.exitCode, run.stderr.toString()).toBe(0);

    const text = pdfText(new Uint8Array(readFileSync(output)));
    expect(text).toContain("Zoë");
    expect(text).toContain("王小明");
  });
});
