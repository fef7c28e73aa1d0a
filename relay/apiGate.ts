// At most `limit` requests from this relay in flight at the API; the rest wait in arrival order, up to `maxWaitMs`.
// In a boot storm every machine asks for its chain, NoCloud files and phone_home at once: unbounded, the API's
// answers slowed past the relay's timeout, each timed-out request was retried on top of the work the API was still
// doing for it, and the storm collapsed (issue 17, N = 1,000: 3,224 chain fetches timed out). Queued here, a
// request waits cheaply and is answered promptly once sent.
export class ApiBusyError extends Error {
  constructor(waitedMs: number) {
    super(`the API is busy: no request slot within ${waitedMs} ms`);
    this.name = "ApiBusyError";
  }
}

export type ApiGate = {
  // Resolves with a release function once a slot is free; rejects with ApiBusyError after maxWaitMs.
  acquire(): Promise<() => void>;
  stats(): { active: number; waiting: number };
};

export function createApiGate(opts: { limit: number; maxWaitMs: number }): ApiGate {
  let active = 0;
  const queue: Array<{ grant: () => void }> = [];
  const release = () => {
    // The slot passes straight to the oldest waiter, so a newcomer cannot take it in between.
    const next = queue.shift();
    if (next) next.grant();
    else active--;
  };
  const releaser = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };
  return {
    acquire() {
      if (active < opts.limit) {
        active++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const entry = {
          grant: () => {
            clearTimeout(timer);
            resolve(releaser());
          },
        };
        const timer = setTimeout(() => {
          const i = queue.indexOf(entry);
          if (i >= 0) queue.splice(i, 1);
          reject(new ApiBusyError(Date.now() - started));
        }, opts.maxWaitMs);
        queue.push(entry);
      });
    },
    stats: () => ({ active, waiting: queue.length }),
  };
}
