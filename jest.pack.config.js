/** The package test (test/pack): npm pack, a scratch CDK app, a real synth with bundling (~90 s). */
/** @type {import('jest').Config} */
module.exports = {
  ...require('./jest.config.js'),
  roots: ['<rootDir>/test/pack'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 600000,
};
