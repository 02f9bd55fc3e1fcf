// Live console view: stages and steps with durations, a line per assertion, a summary. Plain lines when not a TTY.
import type { AssertionResult, RunEvent } from './events.ts';
import { visibleDeep } from './visible.ts';

export interface ConsoleOptions {
  color: boolean;
  tty: boolean;
  verbose: boolean;
  write: (s: string) => void;
}

const C = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;

export function secs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function createConsoleReporter(o: ConsoleOptions): (e: RunEvent) => void {
  const paint = (c: keyof typeof C, s: string) => (o.color ? `\x1b[${C[c]}m${s}\x1b[0m` : s);
  const ok = paint('green', o.color ? '✓' : 'ok');
  const bad = paint('red', o.color ? '✗' : 'FAIL');
  let pendingLine: string | undefined; // the step-start line we may overwrite in place on a TTY
  const titles = new Map<string, string>();
  const results: AssertionResult[] = [];
  let interrupted = false; // after an interrupt, every removal is shown
  const line = (s: string) => {
    pendingLine = undefined;
    o.write(`${s}\n`);
  };
  return (raw: RunEvent) => {
    // text from the lab and the machines is shown, never obeyed by the terminal
    const e = visibleDeep(raw);
    switch (e.type) {
      case 'run-start':
        line(
          paint('bold', `virtlab ${e.lab}`) +
            paint('dim', `  instance ${e.instance}, run ${e.runId}, provider ${e.provider}`),
        );
        break;
      case 'stage-start':
        line(paint('blue', `[${e.stage}]`));
        break;
      case 'stage-end':
        if (!e.ok) line(paint('red', `[${e.stage}] failed after ${secs(e.durationMs)}`));
        break;
      case 'step-start':
        titles.set(e.id, e.title);
        if (o.tty) {
          pendingLine = e.id;
          o.write(`  … ${e.title}\n`);
        }
        break;
      case 'step-end': {
        const title = titles.get(e.id) ?? e.id;
        const mark = e.status === 'failed' ? bad : e.status === 'skipped' ? paint('yellow', 'skip') : ok;
        const text = `  ${mark} ${title}${e.detail ? paint('dim', ` (${e.detail})`) : ''} ${paint('dim', secs(e.durationMs))}`;
        if (o.tty && pendingLine === e.id) o.write(`\x1b[1A\r\x1b[K${text}\n`);
        else o.write(`${text}\n`);
        pendingLine = undefined;
        break;
      }
      case 'log':
        if (e.level !== 'debug' || o.verbose)
          line(`  ${e.level === 'warn' ? paint('yellow', 'warning: ') : ''}${e.message}`);
        break;
      case 'command':
        if (o.verbose)
          line(paint('dim', `    ${e.machine}$ ${e.argv.join(' ')}  -> ${e.exitCode} (${secs(e.durationMs)})`));
        break;
      case 'assertion': {
        const r = e.result;
        results.push(r);
        const exp = r.expect === 'fail' ? paint('dim', ' [expected failure]') : '';
        line(`  ${r.status === 'pass' ? ok : bad} ${r.id}: ${r.title}${exp}`);
        line(paint('dim', `      ${r.reason}`));
        if (r.cells) for (const l of gridLines(r, ok, bad)) line(`      ${l}`);
        if (r.status === 'fail' && r.hint) line(`      ${paint('yellow', 'hint:')} ${r.hint}`);
        break;
      }
      case 'interrupted':
        interrupted = true;
        line(
          paint(
            'yellow',
            `interrupted by ${e.signal}${e.stage ? ` during ${e.stage}` : ''}: removing everything this run created`,
          ),
        );
        break;
      case 'removed':
        if (o.verbose || !e.ok || interrupted)
          line(`  ${e.ok ? ok : bad} removed ${e.what}${e.detail ? ` (${e.detail})` : ''}`);
        break;
      case 'run-end': {
        const passed = results.filter((r) => r.status === 'pass').length;
        const verdict =
          e.result === 'pass'
            ? paint('green', results.length ? 'PASS' : 'OK')
            : e.result === 'interrupted'
              ? paint('yellow', 'INTERRUPTED')
              : paint('red', e.result === 'fail' ? 'FAIL' : 'ERROR');
        line('');
        if (results.length)
          line(`${verdict}  ${passed}/${results.length} assertions as expected  ${paint('dim', secs(e.durationMs))}`);
        else line(`${verdict}  ${paint('dim', secs(e.durationMs))}`);
        if (e.message) line(e.message);
        if (e.reportDir) line(paint('dim', `report: ${e.reportDir}`));
        break;
      }
    }
  };
}

/** A grid as a table: rows are sources, columns targets; each cell shows what was expected and whether it held. */
export function gridLines(r: AssertionResult, ok: string, bad: string): string[] {
  const cells = r.cells ?? [];
  const nodes = [...new Set(cells.flatMap((c) => [c.from, c.to]))];
  const rows = nodes.filter((n) => cells.some((c) => c.from === n));
  const cols = nodes.filter((n) => cells.some((c) => c.to === n));
  const w = Math.max(9, ...rows.map((x) => x.length), ...cols.map((x) => x.length)) + 1;
  const strip = (x: string) => x.replace(/\x1b\[[0-9;]*m/g, '');
  const pad = (x: string) => x + ' '.repeat(Math.max(0, w - strip(x).length));
  const out = [pad('from \\ to') + cols.map(pad).join('')];
  for (const f of rows) {
    out.push(
      pad(f) +
        cols
          .map((t) => {
            const c = cells.find((x) => x.from === f && x.to === t);
            return pad(
              c ? (c.status === 'pass' ? `${c.expect} ${ok}` : `${c.expect} ${bad} (saw ${c.observed})`) : '·',
            );
          })
          .join(''),
    );
  }
  out.push('(each cell: the expected result of a ping from the row to the column, and whether it held)');
  return out;
}
