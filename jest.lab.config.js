/** The lab suite: a real Samba AD DC and real instances in namespaces. Root only, in band. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/lab'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/engine/polyfill.ts'],
  testTimeout: 300000,
  maxWorkers: 1,
};
