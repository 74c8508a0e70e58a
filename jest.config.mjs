// Jest runs TypeScript through swc, compiled to CommonJS. middy 7 ships ESM only, so its
// files are transformed too (not ignored) and its package entry is mapped explicitly.
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  },
];

const shared = {
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|fauxqs)/)'],
  moduleNameMapper: {
    '^@middy/([a-z-]+)$': '<rootDir>/node_modules/@middy/$1/index.js',
    '^#lib/(.*)$': '<rootDir>/functions/lib/$1',
    '^#infra/(.*)$': '<rootDir>/infra/$1',
  },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    // test/ mirrors the source tree; integration tests are marked by their `.int.test.ts` suffix.
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$', '<rootDir>/test/infra/'],
    },
    { ...shared, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'], testPathIgnorePatterns: ['\\.int\\.test\\.ts$'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int.test.ts'],
      // One local stack for the whole run (real DynamoDB Local, fauxqs, API and pollers).
      globalSetup: '<rootDir>/test/support/local-stack-fixture.ts',
      globalTeardown: '<rootDir>/test/support/local-stack-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-timeout.ts'],
    },
  ],
};
