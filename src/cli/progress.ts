// A progress line for long commands on a terminal: rewritten in place ("\r"), elapsed time and an
// estimate of what is left, cleared at the end. Callers decide whether to show it (TTY, --quiet).

export type Progress = (done: number, total: number, what: string) => void;

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressLine(write: (s: string) => void, now: () => number = Date.now): Progress {
  const start = now();
  return (done, total, what) => {
    const elapsed = now() - start;
    const left = done > 0 && done < total ? `, ~${seconds((elapsed / done) * (total - done))} left` : '';
    write(`\r\x1b[Kreplay: ${done}/${total} runs (${what}) ${seconds(elapsed)}${left}`);
    if (done === total) write('\r\x1b[K');
  };
}
