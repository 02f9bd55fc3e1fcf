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

type Paint = (c: keyof typeof C, s: string) => string;

export function createConsoleReporter(o: ConsoleOptions): (e: RunEvent) => void {
  const r = new ConsoleReporter(o);
  // text from the lab and the machines is shown, never obeyed by the terminal
  return (e) => r.on(visibleDeep(e));
}

class ConsoleReporter {
  private readonly paint: Paint;
  private readonly ok: string;
  private readonly bad: string;
  /** the step-start line that may be overwritten in place on a TTY */
  private pendingLine?: string;
  private readonly titles = new Map<string, string>();
  private readonly results: AssertionResult[] = [];
  /** after an interrupt, every removal is shown */
  private interrupted = false;

  constructor(private readonly o: ConsoleOptions) {
    this.paint = (c, s) => (o.color ? `\x1b[${C[c]}m${s}\x1b[0m` : s);
    this.ok = this.paint('green', o.color ? '✓' : 'ok');
    this.bad = this.paint('red', o.color ? '✗' : 'FAIL');
  }

  private line(s: string): void {
    this.pendingLine = undefined;
    this.o.write(`${s}\n`);
  }

  on(e: RunEvent): void {
    const { paint, o } = this;
    switch (e.type) {
      case 'run-start':
        this.line(
          paint('bold', `virtlab ${e.lab}`) +
            paint('dim', `  instance ${e.instance}, run ${e.runId}, provider ${e.provider}`),
        );
        break;
      case 'stage-start':
        this.line(paint('blue', `[${e.stage}]`));
        break;
      case 'stage-end':
        if (!e.ok) this.line(paint('red', `[${e.stage}] failed after ${secs(e.durationMs)}`));
        break;
      case 'step-start':
        this.titles.set(e.id, e.title);
        if (o.tty) {
          this.pendingLine = e.id;
          o.write(`  … ${e.title}\n`);
        }
        break;
      case 'step-end':
        this.stepEnd(e);
        break;
      case 'log':
        if (e.level !== 'debug' || o.verbose)
          this.line(`  ${e.level === 'warn' ? paint('yellow', 'warning: ') : ''}${e.message}`);
        break;
      case 'command':
        if (o.verbose)
          this.line(paint('dim', `    ${e.machine}$ ${e.argv.join(' ')}  -> ${e.exitCode} (${secs(e.durationMs)})`));
        break;
      case 'assertion':
        this.assertion(e.result);
        break;
      case 'interrupted':
        this.interrupted = true;
        this.line(
          paint(
            'yellow',
            `interrupted by ${e.signal}${e.stage ? ` during ${e.stage}` : ''}: removing everything this run created`,
          ),
        );
        break;
      case 'removed':
        if (o.verbose || !e.ok || this.interrupted)
          this.line(`  ${e.ok ? this.ok : this.bad} removed ${e.what}${e.detail ? ` (${e.detail})` : ''}`);
        break;
      case 'run-end':
        this.runEnd(e);
        break;
    }
  }

  private stepEnd(e: Extract<RunEvent, { type: 'step-end' }>): void {
    const { paint, o } = this;
    const title = this.titles.get(e.id) ?? e.id;
    const mark = e.status === 'failed' ? this.bad : e.status === 'skipped' ? paint('yellow', 'skip') : this.ok;
    const text = `  ${mark} ${title}${e.detail ? paint('dim', ` (${e.detail})`) : ''} ${paint('dim', secs(e.durationMs))}`;
    if (o.tty && this.pendingLine === e.id) o.write(`\x1b[1A\r\x1b[K${text}\n`);
    else o.write(`${text}\n`);
    this.pendingLine = undefined;
  }

  private assertion(r: AssertionResult): void {
    const { paint } = this;
    this.results.push(r);
    const exp = r.expect === 'fail' ? paint('dim', ' [expected failure]') : '';
    this.line(`  ${r.status === 'pass' ? this.ok : this.bad} ${r.id}: ${r.title}${exp}`);
    this.line(paint('dim', `      ${r.reason}`));
    if (r.cells) for (const l of gridLines(r, this.ok, this.bad)) this.line(`      ${l}`);
    if (r.status === 'fail' && r.hint) this.line(`      ${paint('yellow', 'hint:')} ${r.hint}`);
  }

  private runEnd(e: Extract<RunEvent, { type: 'run-end' }>): void {
    const { paint, results } = this;
    const passed = results.filter((r) => r.status === 'pass').length;
    const verdict =
      e.result === 'pass'
        ? paint('green', results.length ? 'PASS' : 'OK')
        : e.result === 'interrupted'
          ? paint('yellow', 'INTERRUPTED')
          : paint('red', e.result === 'fail' ? 'FAIL' : 'ERROR');
    this.line('');
    const count = results.length ? `  ${passed}/${results.length} assertions as expected` : '';
    this.line(`${verdict}${count}  ${paint('dim', secs(e.durationMs))}`);
    if (e.message) this.line(e.message);
    if (e.reportDir) this.line(paint('dim', `report: ${e.reportDir}`));
  }
}

/** A grid as a table: rows are sources, columns targets; each cell shows what was expected and whether it held. */
export function gridLines(r: AssertionResult, ok: string, bad: string): string[] {
  const cells = r.cells ?? [];
  const nodes = [...new Set(cells.flatMap((c) => [c.from, c.to]))];
  const rows = nodes.filter((n) => cells.some((c) => c.from === n));
  const cols = nodes.filter((n) => cells.some((c) => c.to === n));
  const w = Math.max(9, ...rows.map((x) => x.length), ...cols.map((x) => x.length)) + 1;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the colour codes this reporter itself adds
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
