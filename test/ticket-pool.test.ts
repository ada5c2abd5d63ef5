import { afterEach, describe, expect, test } from "bun:test";
import { RenderError, RenderPool } from "../src/ticket/pool.ts";
import type { TicketContent } from "../src/ticket/render.ts";
import { pdfText } from "./support/pdf.ts";

const content: TicketContent = {
  ticketId: "3f2a9c1e-7b40-4d2e-9a61-0c5b8e7d1f23",
  eventTitle: "Spring Lecture",
  startsAt: "2025-03-14T18:00:00Z",
  timeZone: "Europe/Vienna",
  venue: "Audimax",
  attendeeName: "Anna Berger",
  token: "ADM1.3f2a9c1e.9b1c2d3e.signature",
};

let pool: RenderPool | undefined;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<RenderError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(RenderError);
  return error as RenderError;
}

describe("RenderPool", () => {
  test("two concurrent renders succeed", async () => {
    pool = new RenderPool(2);

    const [first, second] = await Promise.all([
      pool.render({ ...content, attendeeName: "Zoë Łukasiewicz" }),
      pool.render({ ...content, attendeeName: "王小明" }),
    ]);

    expect(pdfText(first)).toContain("Zoë Łukasiewicz");
    expect(pdfText(second)).toContain("王小明");
  });

  test("queues renders beyond the pool size", async () => {
    const single = new RenderPool(1);
    pool = single;
    const names = ["Anna", "Börje", "Chloé", "Dmitrij"];

    const pdfs = await Promise.all(
      names.map((name) => single.render({ ...content, attendeeName: name })),
    );

    for (const [index, pdf] of pdfs.entries()) {
      expect(pdfText(pdf)).toContain(names[index] ?? "");
    }
  });

  test("unrenderable name keeps its code", async () => {
    pool = new RenderPool(1);

    const error = await rejection(pool.render({ ...content, attendeeName: "Anna \u{1F600}" }));

    expect(error.code).toBe("UNRENDERABLE_TEXT");
    expect(error.message).toContain("U+1F600");
  });

  test("invalid time zone keeps its code", async () => {
    pool = new RenderPool(1);

    const error = await rejection(pool.render({ ...content, timeZone: "Nowhere/Atlantis" }));

    expect(error.code).toBe("INVALID_INPUT");
  });

  test("abort rejects a running render", async () => {
    pool = new RenderPool(1);
    const controller = new AbortController();

    // A pool of one starts the first render at once, so this aborts it mid-render.
    const running = pool.render(content, controller.signal);
    controller.abort();
    const error = await rejection(running);

    expect(error.name).toBe("AbortError");
    expect(error.code).toBe("ABORTED");
  });

  test("abort removes a queued render", async () => {
    pool = new RenderPool(1);
    const controller = new AbortController();

    const first = pool.render(content);
    const queued = pool.render(content, controller.signal);
    const third = pool.render({ ...content, attendeeName: "Third Person" });
    controller.abort();

    expect((await rejection(queued)).code).toBe("ABORTED");
    expect((await first).length).toBeGreaterThan(0);
    expect(pdfText(await third)).toContain("Third Person");
  });

  test("pool renders after an abort", async () => {
    pool = new RenderPool(1);
    const controller = new AbortController();
    const aborted = pool.render(content, controller.signal);
    controller.abort();
    await rejection(aborted);

    const pdf = await pool.render({ ...content, attendeeName: "After Abort" });

    expect(pdfText(pdf)).toContain("After Abort");
  });

  test("timeout signal rejects as TimeoutError", async () => {
    pool = new RenderPool(1);
    const controller = new AbortController();

    const running = pool.render(content, controller.signal);
    controller.abort(new DOMException("deadline passed", "TimeoutError"));
    const error = await rejection(running);

    expect(error.name).toBe("TimeoutError");
    expect(error.code).toBe("ABORTED");
  });

  test("aborted signal rejects at once", async () => {
    pool = new RenderPool(1);

    const error = await rejection(pool.render(content, AbortSignal.abort()));

    expect(error.code).toBe("ABORTED");
  });

  test("close waits for running renders", async () => {
    const closing = new RenderPool(1);
    pool = closing;
    const running = closing.render(content);
    const queued = rejection(closing.render(content));

    await closing.close();

    expect((await running).length).toBeGreaterThan(0);
    expect((await queued).code).toBe("POOL_CLOSED");
    expect((await rejection(closing.render(content))).code).toBe("POOL_CLOSED");
  });

  test("invalid size is rejected", () => {
    expect(() => new RenderPool(0)).toThrow(RangeError);
    expect(() => new RenderPool(1.5)).toThrow(RangeError);
  });
});
