// The slow tier: hypervisors as real QEMU VMs (the vm provider), one test file at a time. `npm run test:slow`;
// `npm test` runs it after the rest.
export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  files: ['test/slow/**/*.test.ts'],
  timeout: '15m',
  concurrency: 1,
  workerThreads: false,
};
