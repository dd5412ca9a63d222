/** Tests run through @swc/jest: TypeScript 7 has no JS API, so ts-jest cannot be used. */
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Scenarios that take real minutes (a 3-minute 429 storm, a 5-minute outage): SLOW_TESTS=1 runs them.
  testPathIgnorePatterns: process.env.SLOW_TESTS === '1' ? ['/node_modules/'] : ['/node_modules/', '<rootDir>/test/e2e/slow/'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
