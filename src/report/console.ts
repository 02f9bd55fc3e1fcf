// Live console view: stages and steps with durations, a line per assertion, a summary. Plain lines when not a TTY.
import { bandText } from './baseline.ts';
import type { AssertionResult, Figure, RunEvent } from './events.ts';
import { visible, visibleDeep } from './visible.ts';

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

/** A step under way: shown at the bottom of a terminal, with its elapsed time, until it ends. */
interface Live {
  id: string;
  title: string;
  started: number;
  limitMs?: number;
  /** without a terminal: the last time a "still waiting" line was written */
  said: number;
}

class ConsoleReporter {
  private readonly paint: Paint;
  private readonly ok: string;
  private readonly bad: string;
  private readonly titles = new Map<string, string>();
  private readonly results: AssertionResult[] = [];
  private readonly skipped: string[] = [];
  /** after an interrupt, every removal is shown */
  private interrupted = false;
  /** steps under way, drawn below everything else on a terminal */
  private live: Live[] = [];
  /** lines of the live block now on the screen */
  private drawn = 0;
  /** a stage's header waits for its first line: no empty sections */
  private header?: string;
  /** lines before the banner (preflight) wait for it, unless something there takes long */
  private early?: string[] = [];
  private ticker?: NodeJS.Timeout;

  constructor(private readonly o: ConsoleOptions) {
    this.paint = (c, s) => (o.color ? `\x1b[${C[c]}m${s}\x1b[0m` : s);
    this.ok = this.paint('green', o.color ? '✓' : 'ok');
    this.bad = this.paint('red', o.color ? '✗' : 'FAIL');
  }

  /** A permanent line: above the live block, after its stage's header. */
  private line(s: string): void {
    const out: string[] = [];
    if (this.header) out.push(this.header);
    this.header = undefined;
    out.push(s);
    if (this.early) {
      this.early.push(...out);
      return;
    }
    this.erase();
    this.o.write(`${out.join('\n')}\n`);
    this.draw();
  }

  /** The stage's header, when a step starts under it. */
  private flushHeader(): void {
    const h = this.header;
    if (!h) return;
    this.header = undefined;
    this.line(h);
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = undefined;
    if (early?.length) this.o.write(`${early.join('\n')}\n`);
  }

  private erase(): void {
    if (this.o.tty && this.drawn) this.o.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private liveText(l: Live): string {
    const el = secs(Math.round(performance.now() - l.started));
    const of = l.limitMs ? ` of ${secs(l.limitMs)}` : '';
    return `  … ${l.title} ${this.paint('dim', `${el}${of}`)}`;
  }

  private draw(): void {
    if (!this.o.tty || this.early || !this.live.length) return;
    this.o.write(`${this.live.map((l) => this.liveText(l)).join('\n')}\n`);
    this.drawn = this.live.length;
  }

  /** Once a second: the live block's clocks on a terminal; a "still waiting" line every 10 s without one. */
  private tick(): void {
    if (this.o.tty) {
      this.erase();
      this.draw();
      return;
    }
    const now = performance.now();
    for (const l of this.live)
      if (now - l.said >= 10000) {
        l.said = now;
        const of = l.limitMs ? ` of ${secs(l.limitMs)}` : '';
        this.line(`  … still waiting: ${l.title} (${secs(Math.round(now - l.started))}${of})`);
      }
  }

  private startTicker(): void {
    if (this.ticker || !this.live.length) return;
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.live.length || !this.ticker) return;
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  on(e: RunEvent): void {
    const { paint, o } = this;
    switch (e.type) {
      case 'run-start':
        this.early = undefined;
        this.erase();
        this.o.write(
          `${paint('bold', `virtlab ${e.lab}`)}${paint('dim', `  instance ${e.instance}, run ${e.runId}, provider ${e.provider}`)}\n`,
        );
        this.flushEarly();
        this.draw();
        break;
      case 'stage-start':
        this.header = paint('blue', `[${e.stage}]`);
        break;
      case 'stage-end':
        if (!e.ok) {
          this.line(paint('red', `[${e.stage}] failed after ${secs(e.durationMs)}`));
          this.flushEarly();
        }
        this.header = undefined;
        break;
      case 'step-start':
        this.titles.set(e.id, e.title);
        // a long step before the banner (an image build) is worth seeing at once
        if (this.early && e.stage === 'preflight') this.flushEarly();
        this.flushHeader();
        this.live.push({
          id: e.id,
          title: e.title,
          started: performance.now(),
          limitMs: e.limitMs,
          said: performance.now(),
        });
        this.erase();
        this.draw();
        this.startTicker();
        break;
      case 'step-end':
        this.stepEnd(e);
        break;
      case 'log':
        if (e.level !== 'debug' || o.verbose)
          this.line(`  ${e.level === 'warn' ? paint('yellow', 'warning: ') : ''}${e.message}`);
        break;
      case 'command':
        if (o.verbose) {
          const line = e.argv[0] === '(upload)' ? `upload ${e.argv[1]} -> ${e.argv[2]}` : (e.line ?? e.argv.join(' '));
          this.line(paint('dim', `    ${e.machine}$ ${line}  -> exit ${e.exitCode}, ${secs(e.durationMs)}`));
          for (const l of (e.output ?? '').split('\n').filter(Boolean))
            this.line(paint('dim', `      | ${visible(l)}`));
        }
        break;
      case 'assertion':
        this.assertion(e.result);
        break;
      case 'interrupted':
        this.interrupted = true;
        this.flushEarly();
        this.line(
          paint(
            'yellow',
            `interrupted by ${e.signal}${e.stage ? ` during ${e.stage}` : ''}: removing everything this run created`,
          ),
        );
        break;
      case 'removed':
        if (o.verbose || !e.ok || this.interrupted)
          this.line(
            `  ${e.ok ? this.ok : this.bad} removed ${e.what}${e.detail ? paint('dim', ` (${e.detail})`) : ''}`,
          );
        break;
      case 'run-end':
        this.live = [];
        this.stopTicker();
        this.flushEarly();
        this.runEnd(e);
        break;
    }
  }

  private stepEnd(e: Extract<RunEvent, { type: 'step-end' }>): void {
    const { paint } = this;
    const title = this.titles.get(e.id) ?? e.id;
    this.live = this.live.filter((l) => l.id !== e.id);
    this.stopTicker();
    if (e.status === 'skipped') this.skipped.push(e.id);
    const mark = e.status === 'failed' ? this.bad : e.status === 'skipped' ? paint('yellow', 'skip') : this.ok;
    this.line(
      `  ${mark} ${title}${e.detail ? paint('dim', ` (${e.detail})`) : ''} ${paint('dim', secs(e.durationMs))}`,
    );
  }

  private assertion(r: AssertionResult): void {
    const { paint } = this;
    this.results.push(r);
    const exp = r.expect === 'fail' ? paint('dim', ' [expected failure]') : '';
    this.line(`  ${r.status === 'pass' ? this.ok : this.bad} ${r.id}: ${r.title}${exp}`);
    this.line(paint('dim', `      ${r.reason}`));
    if (r.cells) for (const l of gridLines(r, this.ok, this.bad)) this.line(`      ${l}`);
    for (const f of r.figures ?? []) {
      const b = f.baseline;
      if (!b) continue;
      const mark = b.verdict === 'regression' ? this.bad : b.verdict === 'improvement' ? this.ok : paint('dim', '·');
      this.line(`      ${mark} ${paint('dim', `${baselineLine(f)}`)}`);
    }
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
    if (e.result !== 'pass') for (const l of this.failureSummary()) this.line(l);
    if (e.report) this.line(paint('dim', `report: ${e.report}`));
    else if (e.reportDir) this.line(paint('dim', `report: ${e.reportDir}`));
  }

  /** Where to look first: the failures, the steps that were skipped, the first hint. */
  private failureSummary(): string[] {
    const failed = this.results.filter((r) => r.status === 'fail');
    const out: string[] = [];
    if (failed.length) out.push(`failed: ${failed.map((r) => r.id).join(', ')}`);
    if (this.skipped.length)
      out.push(`skipped steps: ${this.skipped.join(', ')} (a failure may follow from a step that did not run)`);
    const hint = failed.find((r) => r.hint)?.hint;
    if (hint) out.push(`${this.paint('yellow', 'start here:')} ${hint}`);
    return out;
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

/** "throughput 412 Mbit/s: within baseline main (420 ± 31 Mbit/s)" */
export function baselineLine(f: Figure): string {
  const b = f.baseline!;
  const what =
    b.verdict === 'no-band'
      ? `baseline ${b.name} has too few samples for a band (median ${b.median} ${f.unit})`
      : `${b.verdict === 'within' ? 'within' : `${b.verdict} against`} baseline ${b.name}: ${bandText(b, f.unit)}`;
  return `${f.name} ${b.measured} ${f.unit}${f.samples?.length ? ' (median)' : ''}: ${what}`;
}
