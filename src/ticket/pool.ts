/**
 * A pool of worker threads that render ticket PDFs, which keeps the QR and
 * PDF work off the HTTP event loop.
 *
 * Each worker renders one ticket at a time, and requests wait in a FIFO queue
 * while all workers are busy. Workers start on first use. A worker that
 * crashes, or that runs past HUNG_RENDER_MS after its render was aborted, is
 * terminated and replaced on the next request.
 *
 * For `bun build --compile`, pass the worker as an extra entrypoint:
 * `bun build --compile src/cli.ts src/ticket/render-worker.ts --outfile dist/admit`.
 * See workerUrl for how the binary finds it.
 */

import type { TicketContent } from "./render.ts";

/** A failed render, with a `code` that survives the thread boundary. */
export class RenderError extends Error {
  override name = "RenderError";

  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Message from the pool to a worker. */
export interface RenderRequest {
  id: number;
  content: TicketContent;
}

/** Message from a worker back to the pool. */
export type RenderResponse =
  | { id: number; ok: true; pdf: Uint8Array }
  | { id: number; ok: false; code: string; message: string };

/**
 * How long a worker may go on with a render whose caller gave up before it is
 * terminated. Renders take well under a second once fonts are loaded, so a
 * worker still busy after this is taken to be hung.
 */
export const HUNG_RENDER_MS = 30_000;

interface Job {
  id: number;
  /** Set once the caller has its outcome (result, error or abort), so a late reply is dropped. */
  done: boolean;
  /** Set while an abandoned render still occupies its worker. */
  hungTimer: ReturnType<typeof setTimeout> | undefined;
  content: TicketContent;
  resolve: (pdf: Uint8Array) => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  /** Resolves once the job is resolved or rejected. */
  settled: PromiseWithResolvers<void>;
}

interface Slot {
  worker: Worker | undefined;
  job: Job | undefined;
}

/**
 * Returns the URL of the worker entry. Under `bun run` it sits next to this
 * file. A compiled binary bundles this module into the entry file, so
 * import.meta.url names the entry, and the worker is found at its path
 * relative to the build root, which is src/ when the entry is src/cli.ts.
 */
function workerUrl(): URL {
  const moduleUrl = new URL(import.meta.url);
  const bundled = !moduleUrl.pathname.endsWith("/ticket/pool.ts");
  return new URL(bundled ? "./ticket/render-worker.ts" : "./render-worker.ts", moduleUrl);
}

/** Builds the error for an aborted render, named like the signal's reason. */
function abortError(signal: AbortSignal): RenderError {
  const reason: unknown = signal.reason;
  const error = new RenderError("Ticket render aborted", "ABORTED", { cause: reason });
  // AbortSignal.timeout() aborts with a TimeoutError, and callers tell timeouts apart by that name.
  const timedOut = reason instanceof Error && reason.name === "TimeoutError";
  error.name = timedOut ? "TimeoutError" : "AbortError";
  return error;
}

export class RenderPool {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  /** Creates a pool of `size` workers. None starts before the first render. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Invalid render pool size ${size}: expected an integer of at least 1`);
    }
    this.slots = Array.from({ length: size }, () => ({ worker: undefined, job: undefined }));
  }

  /**
   * Renders a ticket in a worker and returns the PDF bytes.
   * Rejects with RenderError: the worker's error code, ABORTED when `signal`
   * fires, WORKER_CRASHED, or POOL_CLOSED after close().
   */
  render(content: TicketContent, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.closed) {
      return Promise.reject(new RenderError("Render pool is closed", "POOL_CLOSED"));
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));

    return new Promise<Uint8Array>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        done: false,
        hungTimer: undefined,
        content,
        resolve,
        reject,
        signal,
        onAbort: () => this.abort(job),
        settled: Promise.withResolvers<void>(),
      };
      signal?.addEventListener("abort", job.onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Starts every worker now, so the first renders do not pay for loading fonts. */
  warm(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      const worker = slot.worker ?? this.spawn(slot);
      worker.unref();
    }
  }

  /**
   * Stops accepting renders, rejects queued ones with POOL_CLOSED, waits for
   * running renders to finish and terminates the workers. To cut running
   * renders short, abort their signals.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.settle(job, new RenderError("Render pool is closed", "POOL_CLOSED"));
    }

    const running = this.slots.flatMap((slot) => (slot.job ? [slot.job.settled.promise] : []));
    await Promise.all(running);
    for (const slot of this.slots) this.retire(slot);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job !== undefined) continue;

      const job = this.queue.shift();
      if (job === undefined) return;
      const worker = slot.worker ?? this.spawn(slot);
      slot.job = job;
      worker.ref();
      worker.postMessage({ id: job.id, content: job.content } satisfies RenderRequest);
    }
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(workerUrl());
    worker.addEventListener("message", (event: MessageEvent<RenderResponse>) => {
      if (slot.worker === worker) this.finish(slot, event.data);
    });
    worker.addEventListener("error", (event: ErrorEvent) => {
      if (slot.worker === worker) this.crash(slot, event.message);
    });
    // A worker can exit without an error event, for example by process.exit().
    worker.addEventListener("close", () => {
      if (slot.worker === worker) this.crash(slot, "worker exited");
    });
    slot.worker = worker;
    return worker;
  }

  private finish(slot: Slot, response: RenderResponse): void {
    const job = slot.job;
    // Ignore a reply that does not belong to the slot's current job.
    if (job === undefined || response.id !== job.id) return;

    slot.job = undefined;
    slot.worker?.unref();
    clearTimeout(job.hungTimer);
    if (response.ok) {
      this.settle(job, response.pdf);
    } else {
      this.settle(job, new RenderError(response.message, response.code));
    }
    this.dispatch();
  }

  private crash(slot: Slot, detail: string): void {
    const job = slot.job;
    this.retire(slot);
    if (job !== undefined) {
      this.settle(job, new RenderError(`Render worker crashed: ${detail}`, "WORKER_CRASHED"));
    }
    this.dispatch();
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
    } else {
      const slot = this.slots.find((candidate) => candidate.job === job);
      if (slot === undefined) return;
      // pdf-lib cannot be interrupted. Terminating the worker would throw away
      // its loaded fonts, and under load that turns slow first renders into
      // endless timeouts, so the render finishes in the background unless it
      // is hung.
      job.hungTimer = setTimeout(() => {
        if (slot.job !== job) return;
        this.retire(slot);
        this.dispatch();
      }, HUNG_RENDER_MS);
      job.hungTimer.unref?.();
    }

    if (job.signal !== undefined) this.settle(job, abortError(job.signal));
    this.dispatch();
  }

  /** Terminates the slot's worker and frees the slot. */
  private retire(slot: Slot): void {
    clearTimeout(slot.job?.hungTimer);
    const worker = slot.worker;
    slot.worker = undefined;
    slot.job = undefined;
    if (worker !== undefined) void worker.terminate();
  }

  private settle(job: Job, outcome: Uint8Array | Error): void {
    if (job.done) return;
    job.done = true;
    job.signal?.removeEventListener("abort", job.onAbort);
    if (outcome instanceof Error) {
      job.reject(outcome);
    } else {
      job.resolve(outcome);
    }
    job.settled.resolve();
  }
}
