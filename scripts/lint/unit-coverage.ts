// After `npm run test:unit`: every module of src/ that has code to run was loaded and partly run by the unit tests
// (c8's coverage summary), so no logic is left for the end-to-end tests alone. Type-only modules have no code.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8')) as Record<
  string,
  { lines: { pct: number } }
>;
const hasCode = (file: string) => /^(export )?(async )?(function|const|class|let) /m.test(readFileSync(file, 'utf8'));
const untouched = Object.entries(summary)
  .filter(([file, s]) => file !== 'total' && s.lines.pct === 0 && hasCode(file))
  .map(([file]) => relative('.', file));
if (untouched.length) {
  console.error(`modules no unit test runs (add a unit test that imports them):\n  ${untouched.join('\n  ')}`);
  process.exitCode = 1;
} else {
  const total = summary.total!.lines.pct;
  console.log(`unit coverage: every module with code is run by the unit tests; ${total}% of the lines of src/`);
}
