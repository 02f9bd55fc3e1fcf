// The VM tier: hypervisors as real QEMU VMs (the vm provider), one test at a time. `npm run test:vm`; `npm test`
// runs it after the rest (CI).
export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  files: ['test/vm/**/*.test.ts'],
  timeout: '15m',
  concurrency: 1,
  workerThreads: false,
};
