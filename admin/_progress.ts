/**
 * A spinner with the elapsed time on stderr while a slow step runs (an RSA-4096 key takes
 * seconds). Only on a terminal: piped or redirected stderr stays quiet, so logs hold no `\r` noise.
 *
 * @module
 */

const FRAMES = ["|", "/", "-", "\\"];

/** Runs `work`, showing `label` with a spinner and the elapsed seconds when stderr is a terminal. */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!Deno.stderr.isTerminal()) return await work();
  const encoder = new TextEncoder();
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const text = `\r${FRAMES[frame++ % FRAMES.length]} ${label} ${seconds}s`;
    Deno.stderr.writeSync(encoder.encode(text));
  };
  draw();
  const timer = setInterval(draw, 100);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    // Erase the line so that what follows starts clean.
    Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  }
}
