// check: runs some of the lab's assertions in the middle of the setup (a phase of the lab); not run again at the end.
import { TIMEOUTS } from '../../host/config.ts';
import type { StepBase } from '../../lab/model.ts';
import { assertionNodes, runAssertions } from '../checks/index.ts';
import { defineStep, ref } from '../define.ts';
import { waitReady } from '../ready.ts';

export interface CheckStep extends StepBase {
  kind: 'check';
  assertions: string[];
}

interface Raw {
  assertions: string[];
}

export const check = defineStep<CheckStep, Raw>({
  kind: 'check',
  summary: 'runs some of the assertions at this point of the setup (a phase of the lab)',
  stage: 'setup',
  schema: {
    description: 'Run some checks in the middle of the setup: phases of a lab.',
    required: ['assertions'],
    properties: {
      assertions: {
        type: 'array',
        minItems: 1,
        items: ref('stepId'),
        description: 'Assertion ids to run at this point of the setup (they are not run again at the end).',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    ctx.later(() => {
      raw.assertions.forEach((aid, j) => {
        const ids = ctx.assertionIds();
        if (!ids.includes(aid))
          ctx.err([...at, 'assertions', j], `no assertion with id "${aid}"`, `assertion ids: ${ids.join(', ')}`);
      });
    });
    return { ...base, kind: 'check', assertions: raw.assertions };
  },
  title: (s) => `check now: ${s.assertions.join(', ')}`,
  machine: () => undefined,
  place: () => 'virtlab',
  commands: () => [],
  checks: (s) => s.assertions,
  async execute(step, s) {
    const checks = step.assertions.map((id) => s.lab.assertions.find((a) => a.id === id)!);
    // the guests these checks involve must have booted first
    const names = new Set(checks.flatMap(assertionNodes));
    await Promise.all(s.lab.guests.filter((g) => names.has(g.name)).map((g) => waitReady(s, g, TIMEOUTS.guestBootMs)));
    const results = await runAssertions(checks, s, (result) => s.emit({ type: 'assertion', result }));
    const bad = results.filter((r) => r.status === 'fail').length;
    return { status: 'ok', detail: `${results.length - bad}/${results.length} as expected` };
  },
});
