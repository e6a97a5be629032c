// A case's SLA clock as the agent watches it: the time left to a due moment, counting down each
// second, or how long ago it passed.

/** Time to a due moment. */
export interface Countdown {
  overdue: boolean;
  /** `[d ]hh:mm:ss` of the time left, or past. */
  clock: string;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The time from `now` to `due`. */
export function countdown(due: Date, now: Date): Countdown {
  const ms = due.getTime() - now.getTime();
  const overdue = ms < 0;
  const total = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(total / 86400);
  const rest = total % 86400;
  const clock = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return { overdue, clock: days > 0 ? `${days}d ${clock}` : clock };
}
