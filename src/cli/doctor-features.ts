// doctor's kernel-features section: what this host's kernel has, and which labs (and variants) each missing
// feature keeps from running with namespace machines.
import { FEATURES, type Feature, hostFeatures } from '../host/features.ts';
import { labPath, listLabNames, loadLab, variantsOf } from '../lab/load.ts';
import { createProvider } from '../providers/index.ts';
import { hostNeeds } from '../runner/requirements.ts';

export interface FeatureReport {
  feature: Feature;
  what: string;
  present: boolean;
  /** lab or lab/variant names that need it on a namespace machine */
  blocks: string[];
}

/** Every lab and variant of the project, with the features its namespace machines need of this host. */
function labNeeds(): { name: string; features: Set<Feature> }[] {
  const provider = createProvider('netns');
  const out: { name: string; features: Set<Feature> }[] = [];
  for (const lab of listLabNames()) {
    const variants = Object.keys(variantsOf(labPath(lab)).variants);
    for (const v of variants.length ? variants : [undefined]) {
      try {
        const needs = hostNeeds(loadLab(lab, undefined, v), provider);
        out.push({ name: v ? `${lab} (variant ${v})` : lab, features: new Set(needs.map((n) => n.feature)) });
      } catch {
        // an invalid lab is validate's business, not doctor's
      }
    }
  }
  return out;
}

export async function featureReport(): Promise<FeatureReport[]> {
  const have = await hostFeatures();
  const labs = labNeeds();
  return FEATURES.map((f) => ({
    feature: f.name,
    what: f.what,
    present: have.get(f.name) ?? false,
    blocks: have.get(f.name) ? [] : labs.filter((l) => l.features.has(f.name)).map((l) => l.name),
  }));
}

export function formatFeatures(rows: FeatureReport[]): string[] {
  const lines = [`kernel features: ${rows.map((r) => `${r.feature} ${r.present ? 'yes' : 'no'}`).join(', ')}`];
  for (const r of rows.filter((x) => !x.present)) {
    lines.push(
      `  without ${r.what}: ${r.blocks.length ? `${r.blocks.join(', ')} need a VM machine here (provider: vm)` : 'no lab here needs it'}`,
    );
  }
  return lines;
}
