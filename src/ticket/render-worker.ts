/**
 * Worker thread entry of the render pool: renders one ticket per message and
 * replies with the PDF bytes or with the error's code and message.
 */

import type { RenderRequest, RenderResponse } from "./pool.ts";
import { fallbackChain, loadFont } from "./fonts.ts";
import { renderTicketPdf } from "./render.ts";

declare const self: Worker;

// Load every font when the worker starts rather than in its first render, so
// a render's time does not depend on which worker it lands on.
for (const weight of ["regular", "bold"] as const) {
  for (const source of fallbackChain(weight)) loadFont(source);
}

function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") {
    return err.code;
  }
  return "RENDER_FAILED";
}

self.addEventListener("message", async (event: MessageEvent<RenderRequest>) => {
  const { id, content } = event.data;

  let pdf: Uint8Array;
  try {
    pdf = await renderTicketPdf(content);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    self.postMessage({ id, ok: false, code: errorCode(err), message } satisfies RenderResponse);
    return;
  }

  // Transfer the buffer instead of copying it.
  const transfer = pdf.buffer instanceof ArrayBuffer ? [pdf.buffer] : [];
  self.postMessage({ id, ok: true, pdf } satisfies RenderResponse, transfer);
});
