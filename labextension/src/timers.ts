/**
 * The one clock seam of the panel's models: the browser's timers by default, a fake in
 * the jest tests (so no test waits for real time).
 */
export interface ITimers {
  set: (fn: () => void, ms: number) => unknown;
  clear: (handle: unknown) => void;
}

export const browserTimers: ITimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: handle => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
