// virtlab doctor: the host as every provider sees it, and every environment variable virtlab reads.
import { EXIT } from '../errors.ts';
import { ENVIRONMENT } from '../host/config.ts';
import { home } from '../host/home.ts';
import { PROVIDERS } from '../providers/index.ts';
import type { Problem } from '../providers/port.ts';
import type { Options } from './args.ts';
import { featureReport, formatFeatures } from './doctor-features.ts';

export async function doctor(o: Options): Promise<number> {
  const sections = await Promise.all(
    PROVIDERS.filter((p) => p.doctor).map(async (p) => ({ name: p.name, ...(await p.doctor!()) })),
  );
  const features = await featureReport();
  const problems: Problem[] = sections.flatMap((s) => s.problems);
  const root = process.getuid?.() === 0;
  // the vm provider's problems do not stop the netns provider: only the host's own problems fail doctor
  const blocking = problems.filter((p) => !p.what.startsWith('vm provider: '));
  if (o.json) {
    const data = Object.assign({}, ...sections.map((s) => s.data));
    const vmProblems = problems.filter((p) => p.what.startsWith('vm provider: '));
    const env = ENVIRONMENT.map((e) => ({ ...e, value: process.env[e.name] ?? null }));
    console.log(
      JSON.stringify(
        {
          ok: !blocking.length,
          root,
          problems: blocking,
          vmProblems,
          ...data,
          features,
          environment: env,
          home: home().root,
        },
        null,
        2,
      ),
    );
    return blocking.length ? EXIT.host : EXIT.ok;
  }
  console.log(`root:            ${root ? 'yes' : 'no'}`);
  for (const s of sections) for (const l of s.lines) console.log(l);
  for (const l of formatFeatures(features)) console.log(l);
  console.log(`state folder:    ${home().root}`);
  const vmOk = !problems.some((p) => p.what.startsWith('vm provider: '));
  if (!blocking.length)
    console.log(
      `\nall checks passed: this host can run every lab with the netns provider${features.some((f) => f.blocks.length) ? ' (except the variants kernel features names, which need VM machines)' : ''}${vmOk ? ' and the vm provider' : ''}`,
    );
  for (const p of problems) console.log(`\nproblem: ${p.what}${p.hint ? `\n  fix: ${p.hint}` : ''}`);
  return blocking.length ? EXIT.host : EXIT.ok;
}
