// Read your own writes, the one way for the dashboard and the widget. Views lag the event log (~100 ms,
// seconds under load), so a read names the events its answer must include: `min_position=<document
// id>:<position>`, positions from our own commands' answers and from pushed events. The gateway answers once
// its view has applied them, or with 503 `view_behind` and Retry-After; then we ask again. An answer is never
// older than what we were told of, so no guessed delay and no "is it fresh yet?" loop.

/** The newest position this page knows of per document (conversation, agent, department, canned response). */
export const known = new Map();

export function note(documentId, position) {
  if (documentId && Number.isInteger(position) && position > (known.get(documentId) ?? -1)) known.set(documentId, position);
}

/** Our own commands answer with the events they appended (`events[].aggregate_id`, `.position`). */
export function noteAppended(answer) {
  for (const e of answer?.events || []) note(e.aggregate_id, e.position);
}

// As many documents as the gateway lets one read name (services/gateway/freshness.py).
const MAX_WANTED = 100;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * One view this page shows. `read(minPosition)` fetches it with `min_position` set to that list;
 * `paint(answer)` shows the answer. `documents()` names documents the answer must be as new as every
 * position known of them (a chat: its own id); `want(id, position)` names one more event for the next
 * answer (a list: the events pushed about its rows), `saw(id, position)` that and reads unless the read in
 * flight already waits for it. `refresh()` reads; triggers during a read coalesce
 * into one more read after it. `reload()` reads at once and drops any answer still in flight (a new
 * filter). A failure other than `view_behind` goes to `onError` and what is shown stays.
 */
export function freshView({ read, paint, documents = () => [], onError = () => {}, attempts = 30 }) {
  const wanted = new Map();
  let run = 0;
  let busy = null;
  let again = false;
  let asked = new Map(); // what the read in flight waits for

  const asking = () => {
    const positions = new Map(wanted);
    for (const id of documents()) {
      const position = known.get(id);
      if (position !== undefined && position > (positions.get(id) ?? -1)) positions.set(id, position);
    }
    return positions;
  };

  async function cycle(mine) {
    let behind = 0;
    do {
      again = false;
      asked = asking();
      const mineAsked = asked;
      let answer;
      try {
        answer = await read([...mineAsked].map(([id, position]) => `${id}:${position}`));
      } catch (error) {
        if (mine !== run) return;
        if (error.status === 503 && error.code === 'view_behind' && ++behind < attempts) {
          await sleep((error.retryAfter || 1) * 1000);
          if (mine !== run) return;
          again = true;
        } else {
          onError(error);
        }
        continue;
      }
      if (mine !== run) return;
      behind = 0;
      for (const [id, position] of mineAsked) if (wanted.get(id) <= position) wanted.delete(id);
      paint(answer);
    } while (again && mine === run);
  }

  function start() {
    const mine = run;
    const running = cycle(mine).finally(() => {
      if (busy !== running) return;
      busy = null;
      asked = new Map();
    });
    busy = running;
    return running;
  }

  return {
    want(id, position) {
      if (!id || !Number.isInteger(position) || position <= (wanted.get(id) ?? -1)) return;
      wanted.delete(id); // newest last: past MAX_WANTED the oldest are no longer waited for
      wanted.set(id, position);
      while (wanted.size > MAX_WANTED) wanted.delete(wanted.keys().next().value);
    },
    /** The next answer includes what a command of ours appended (its answer's `events`). */
    wantAppended(answer) {
      for (const e of answer?.events || []) this.want(e.aggregate_id, e.position);
    },
    /** An event at `position` of document `id` was pushed: read again, unless the read in flight waits for it. */
    saw(id, position) {
      if (busy && (asked.get(id) ?? -1) >= position) return busy;
      this.want(id, position);
      return this.refresh();
    },
    refresh() {
      if (busy) { again = true; return busy; }
      return start();
    },
    reload() {
      run += 1;
      return start();
    },
    stop() { run += 1; },
  };
}
