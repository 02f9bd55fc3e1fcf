// Course mode: the walkthrough (explain) and the instructions left to a student (up --until).
import { assertionTitle } from '../kinds/checks/index.ts';
import type { VirtTypeOf } from '../kinds/define.ts';
import { stepCommands, stepPlace, stepTitle } from '../kinds/steps/index.ts';
import type { Lab, StepBase } from '../lab/model.ts';
import { visible } from '../report/visible.ts';
import { displayLine } from '../transport/quote.ts';

function stepText(s: StepBase, n: number, virtType?: VirtTypeOf): string[] {
  const cmds = stepCommands(s, virtType).map((c) =>
    c[0] === 'upload' ? `    (virtlab copies ${c[1]} to ${c[2]})` : `    $ ${displayLine(c)}`,
  );
  return [
    `${n}. [${s.id}] ${stepTitle(s)}`,
    ...(s.description ? [`    why: ${s.description}`] : []),
    `    on ${stepPlace(s)}:`,
    ...cmds,
  ];
}

/** Every step of the lab with the exact command it runs and why; then what is checked. */
export function explain(lab: Lab): string {
  const lines = [`${lab.name}: ${lab.description}`, ''];
  if (lab.teaches) lines.push(...lab.teaches.trimEnd().split('\n'), '');
  lines.push('Steps:');
  lab.steps.forEach((s, i) => {
    lines.push(...stepText(s, i + 1));
  });
  lines.push('', 'Checks:');
  for (const a of lab.assertions) {
    lines.push(`  - [${a.id}] ${assertionTitle(a)}${a.points !== 1 ? ` (${a.points} points)` : ''}`);
    if (a.description) lines.push(`      why: ${a.description}`);
    if (a.hint) lines.push(`      hint when it fails: ${a.hint}`);
  }
  return visible(`${lines.join('\n')}\n`);
}

/**
 * What a student does by hand after `virtlab up <lab> --until <from>`: the goal, where the lab stands, and the steps
 * left with the lab's own numbers, titles and why. The commands only for a teacher (`--show-solution`): printing
 * them would give the exercise away.
 */
export function instructions(
  lab: Lab,
  from: string,
  instance: string,
  o: { virtType?: VirtTypeOf; showSolution?: boolean } = {},
): string {
  const i = lab.steps.findIndex((s) => s.id === from);
  const lines = ['', `Exercise: ${lab.exercise?.goal ?? lab.description}`];
  if (lab.exercise?.text) lines.push(...lab.exercise.text.trimEnd().split('\n'));
  const done = lab.steps.slice(0, i).map((s, n) => `${n + 1}. ${stepTitle(s)}`);
  if (done.length) lines.push('Already done for you:', ...done.map((l) => `  ${l}`));
  lines.push(`Left to you (virtlab ssh ${instance} <machine>; virtlab console ${instance} <guest>):`);
  lab.steps.slice(i).forEach((s, n) => {
    const num = i + n + 1;
    if (o.showSolution) lines.push(...stepText(s, num, o.virtType));
    else
      lines.push(
        `${num}. [${s.id}] ${stepTitle(s)}`,
        ...(s.description ? [`    why: ${s.description}`] : []),
        `    on ${stepPlace(s)}`,
      );
  });
  if (!o.showSolution) lines.push('(the commands: virtlab explain <lab>, or up --show-solution for a teacher)');
  lines.push(`When done, check your work: virtlab check ${instance}`);
  return visible(`${lines.join('\n')}\n`);
}

/** What a student is told after `up --break`: that something is broken, not what (unless --show-solution). */
export function breakFixText(instance: string, faults: string[], showSolution = false): string {
  const lines = [
    '',
    `Break-fix: ${faults.length} fault${faults.length === 1 ? ' was' : 's were'} put into this lab. Find ${faults.length === 1 ? 'it' : 'them'} and fix ${faults.length === 1 ? 'it' : 'them'}`,
    `(virtlab ssh ${instance} <machine>); virtlab check ${instance} grades the repair, with the lab's hints.`,
  ];
  if (showSolution) lines.push('The faults (for the teacher):', ...faults.map((f) => `  - ${f}`));
  return visible(`${lines.join('\n')}\n`);
}
