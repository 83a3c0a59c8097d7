/** Unit, infra, workflow and CLI tests: no root, no namespaces, run in parallel (the package test: jest.pack.config.js). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/lab/', '<rootDir>/test/pack/'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/engine/polyfill.ts'],
  testTimeout: 60000,
};
