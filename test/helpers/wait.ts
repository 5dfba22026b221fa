// Waiting in tests: every wait is bounded, so a condition that never comes fails the
// test with a message instead of hanging the runner.

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `check` every `stepMs` until it returns a truthy value, and resolve with that
 * value; reject, naming `what`, once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 3000,
  what = "condition",
  stepMs = 10,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await delay(stepMs);
  }
}

/** Whether `emitter` emits `event` within `timeoutMs` (false when it does not). */
export function emitsWithin(
  emitter: { once(event: string, listener: () => void): unknown },
  event: string,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
