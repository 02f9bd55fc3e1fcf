// The whole VM suite: the VM tier (test/vm, also run by `npm test`) and the slow tier (test/slow: a two-kernel
// matrix, a peer VM, vepa-hairpin on a VM, two VM labs at once), one test at a time. `npm run test:slow`.
export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  files: ['test/vm/**/*.test.ts', 'test/slow/**/*.test.ts'],
  timeout: '15m',
  concurrency: 1,
  workerThreads: false,
};
