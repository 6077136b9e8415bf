type CrashEvent = 'uncaughtException' | 'unhandledRejection';
const CRASH_EVENTS: readonly CrashEvent[] = ['uncaughtException', 'unhandledRejection'];

/**
 * Runs `start` and then removes the process-wide `uncaughtException` / `unhandledRejection`
 * handlers it added. tfjs-backend-wasm's emscripten glue adds handlers that rethrow from inside
 * the handler, so an uncaught error in the user's script would print the glue's minified source
 * (~38 KB) and exit with code 7 instead of printing the user's error and exiting with 1.
 */
export async function withoutNewCrashHandlers<T>(start: () => Promise<T>): Promise<T> {
  if (typeof process === 'undefined' || typeof process.listeners !== 'function') return start();
  const before = new Map(
    CRASH_EVENTS.map((event) => [event, new Set(process.listeners(event as 'uncaughtException'))]),
  );
  try {
    return await start();
  } finally {
    for (const event of CRASH_EVENTS) {
      for (const listener of process.listeners(event as 'uncaughtException')) {
        if (!before.get(event)!.has(listener)) {
          process.removeListener(event as 'uncaughtException', listener);
        }
      }
    }
  }
}
