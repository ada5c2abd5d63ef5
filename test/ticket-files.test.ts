import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  classifyFileError,
  ticketPdfPath,
  TicketPathError,
  writeFileAtomic,
  writeFileExclusiveSync,
} from "../src/ticket/files.ts";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "admit-files-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`simulated ${code}`), { code });
}

describe("writeFileAtomic", () => {
  test("writes bytes with mode 0600", async () => {
    const path = join(dir, "a.pdf");

    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));

    expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array([1, 2, 3]));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("applies the given mode", async () => {
    const path = join(dir, "a.pdf");

    await writeFileAtomic(path, new Uint8Array([1]), 0o640);

    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  test("creates missing directories", async () => {
    const path = join(dir, "tickets", "nested", "a.pdf");

    await writeFileAtomic(path, new Uint8Array([7]));

    expect(readFileSync(path)[0]).toBe(7);
  });

  test("replaces an existing file", async () => {
    const path = join(dir, "a.pdf");
    writeFileSync(path, "old contents");

    await writeFileAtomic(path, new TextEncoder().encode("new"));

    expect(readFileSync(path, "utf8")).toBe("new");
  });

  test("leaves no temporary files", async () => {
    await writeFileAtomic(join(dir, "a.pdf"), new Uint8Array([1]));
    await writeFileAtomic(join(dir, "a.pdf"), new Uint8Array([2]));
    await writeFileAtomic(join(dir, "b.pdf"), new Uint8Array([3]));

    expect(readdirSync(dir).sort()).toEqual(["a.pdf", "b.pdf"]);
  });

  test("failed rename removes the temporary file", async () => {
    // Renaming a file over a non-empty directory fails with EISDIR or ENOTEMPTY.
    const target = join(dir, "taken");
    await writeFileAtomic(join(target, "inner"), new Uint8Array([1]));

    await expect(writeFileAtomic(target, new Uint8Array([2]))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(["taken"]);
  });
});

describe("writeFileExclusiveSync", () => {
  test("creates the file once", () => {
    const path = join(dir, "keys", "key.pem");

    writeFileExclusiveSync(path, "first", 0o600);
    writeFileExclusiveSync(path, "second", 0o600);

    expect(readFileSync(path, "utf8")).toBe("first");
    expect(readdirSync(join(dir, "keys"))).toEqual(["key.pem"]);
    expect(statSync(join(dir, "keys")).mode & 0o777).toBe(0o700);
  });
});

describe("ticketPdfPath", () => {
  test("builds the path under tickets", () => {
    expect(ticketPdfPath("/data", "3f2a9c1e-7b40")).toBe("/data/tickets/3f2a9c1e-7b40.pdf");
  });

  test("traversal ids are rejected", () => {
    const invalid = [
      "",
      "..",
      "../etc/passwd",
      "a/b",
      "a\\b",
      "a.pdf",
      "%2e%2e",
      "a\0b",
      "ä",
      "x".repeat(129),
    ];

    for (const id of invalid) {
      expect(() => ticketPdfPath("/data", id)).toThrow(TicketPathError);
    }
  });
});

describe("classifyFileError", () => {
  test("resource errors are transient", () => {
    for (const code of ["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE", "EAGAIN", "EBUSY"]) {
      expect(classifyFileError(errnoError(code))).toBe("transient");
    }
  });

  test("other errors are permanent", () => {
    const errors: unknown[] = [
      errnoError("EACCES"),
      errnoError("EROFS"),
      errnoError("ENOENT"),
      new Error("no code"),
      "ENOSPC",
      null,
      undefined,
      { code: 28 },
    ];

    for (const err of errors) {
      expect(classifyFileError(err)).toBe("permanent");
    }
  });

  test("wrapped errors keep their class", () => {
    const wrapped = new Error("storing the ticket failed", { cause: errnoError("ENOSPC") });

    expect(classifyFileError(wrapped)).toBe("transient");
  });

  test("cyclic cause chain terminates", () => {
    const first = new Error("first");
    const second = new Error("second", { cause: first });
    first.cause = second;

    expect(classifyFileError(first)).toBe("permanent");
  });

  test("real full-disk error is transient", async () => {
    // /dev/full returns ENOSPC on every write on Linux.
    const error = await Bun.write("/dev/full", "x").catch((err: unknown) => err);

    expect(classifyFileError(error)).toBe("transient");
  });
});
