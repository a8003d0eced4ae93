// Views lag the event log by ~100 ms, and by seconds under load: ask again until the answer has caught up.

/**
 * `fn` loads and paints, and returns true when what it got is at least as new as every event pushed so
 * far. It runs shortly after a trigger, then again while it returns false: after 250 ms, backing off to
 * every 2 s, for about a minute (a loaded server's views can lag for many seconds); a newer trigger takes
 * over from an older one, so bursts coalesce and a stale answer never sticks. Returns the trigger function.
 */
export function catchUp(fn, { first = 120, every = 250, most = 2000, attempts = 40 } = {}) {
  let run = 0;
  return () => {
    const mine = ++run;
    const attempt = async (n) => {
      if (mine !== run) return;
      let fresh = false;
      try { fresh = await fn(); } catch { /* keep what we show; try again */ }
      const wait = Math.min(every * 1.5 ** n, most);
      if (!fresh && n + 1 < attempts && mine === run) setTimeout(() => attempt(n + 1), wait);
    };
    setTimeout(() => attempt(0), first);
  };
}
