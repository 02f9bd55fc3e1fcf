// What run, up and plan check before anything happens, and the provider options the command line gives.
import { UsageError } from '../errors.ts';
import { checkStepIds, type Lab } from '../lab/model.ts';
import { providerDef, providerOptions } from '../providers/index.ts';
import type { Options } from './args.ts';

const REPORT_FORMATS = ['json', 'junit', 'html', 'tap'];

export function reportFormats(o: Options): string[] {
  const list = (o.reportFormat ?? 'json,junit,html')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const f of list) {
    if (!REPORT_FORMATS.includes(f))
      throw new UsageError(`unknown report format "${f}"`, `formats: ${REPORT_FORMATS.join(', ')}`);
  }
  return list;
}

/** The provider options (--inventory, --kernel) the command line gave, by key. */
export function providerOptionsOf(o: Options): Record<string, string | undefined> {
  const values = o as unknown as Record<string, string | undefined>;
  return Object.fromEntries(providerOptions().map((p) => [p.key, values[p.key]]));
}

/** --provisioner: builtin or ansible. */
export function provisionerOption(o: Options): 'builtin' | 'ansible' | undefined {
  if (o.provisioner === undefined || o.provisioner === 'builtin' || o.provisioner === 'ansible') return o.provisioner;
  throw new UsageError(`--provisioner must be builtin or ansible, not "${o.provisioner}"`);
}

/** Everything run, up and plan (= run --dry-run) check before anything happens: steps, provider, formats. */
export function checkRunOptions(o: Options, lab: Lab): void {
  checkStepIds(lab, o.until, o.skip);
  providerDef(o.provider ?? 'netns');
  reportFormats(o);
  provisionerOption(o);
}
