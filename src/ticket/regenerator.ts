/**
 * The part of Babel's regenerator runtime that @pdf-lib/fontkit 1.1.1 needs.
 *
 * The fontkit build compiles one generator, the syllable state machine of
 * its Indic and Universal shapers, with Babel's regenerator transform but
 * does not bundle the runtime. Shaping Devanagari, for example, then throws
 * "regeneratorRuntime is not defined". That generator only calls `mark`,
 * `wrap` and `context.stop()` and reads `context.next`, so this small
 * version is enough. Importing this module installs it once per thread,
 * unless another runtime is already installed.
 */

interface GeneratorContext {
  prev: number | string;
  next: number | string;
  done: boolean;
  stop(): undefined;
}

type CompiledBody = (context: GeneratorContext) => unknown;

const regeneratorRuntime = {
  mark<T>(generatorFunction: T): T {
    return generatorFunction;
  },

  /** Runs the compiled body until its next `return`, which is a yield unless it called stop(). */
  wrap(body: CompiledBody, _outer?: unknown, self?: unknown): IterableIterator<unknown> {
    const context: GeneratorContext = {
      prev: 0,
      next: 0,
      done: false,
      stop() {
        this.done = true;
        return undefined;
      },
    };

    const iterator: IterableIterator<unknown> = {
      next() {
        if (context.done) return { value: undefined, done: true };
        const value = body.call(self, context);
        return context.done ? { value: undefined, done: true } : { value, done: false };
      },
      [Symbol.iterator]() {
        return iterator;
      },
    };
    return iterator;
  },
};

if (!("regeneratorRuntime" in globalThis)) {
  Object.defineProperty(globalThis, "regeneratorRuntime", {
    value: regeneratorRuntime,
    configurable: true,
    writable: true,
  });
}
