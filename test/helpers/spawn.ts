// Runs virtlab in the background with --json and lets a test act when a given event arrives.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Running {
  child: ChildProcess;
  events: any[];
  /** resolves with the first event matching pred */
  when(pred: (e: any) => boolean, timeoutMs?: number): Promise<any>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** done, or after timeoutMs a SIGTERM and an error naming the events seen and the tail of stderr (a hung run fails fast) */
  doneWithin(timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** nodeArgs go before the CLI (e.g. `--import` of a fault injector under test/helpers). */
export function startVirtlab(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, 'src/cli/main.ts', ...args, '--json'], {
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const events: any[] = [];
  const waiters: { pred: (e: any) => boolean; resolve: (e: any) => void }[] = [];
  let stdout = '';
  let stderr = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = JSON.parse(line);
        events.push(e);
        for (const w of [...waiters])
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
      } catch {
        /* not an event */
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code) => res({ code, stdout, stderr })),
  );
  const doneWithin = (timeoutMs: number) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        const last = events.slice(-8).map((e) => JSON.stringify(e).slice(0, 300));
        reject(
          new Error(
            `virtlab ${args.join(' ')} did not end within ${timeoutMs} ms (pid ${child.pid}); last events:\n${last.join('\n')}\nstderr:\n${stderr.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      done.then((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  return {
    child,
    events,
    done,
    doneWithin,
    when: (pred, timeoutMs = 120000) => {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        setTimeout(
          () =>
            reject(
              new Error(
                `no matching event within ${timeoutMs} ms; saw: ${events.map((e) => e.type + (e.stage ? `:${e.stage}` : '')).join(' ')}`,
              ),
            ),
          timeoutMs,
        ).unref();
      });
    },
  };
}
