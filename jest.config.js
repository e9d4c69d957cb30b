// Jest runs the model, service and graph tests in Node (no browser, no DOM).
// JupyterLab and Lumino ship ES modules: let ts-jest compile them too.
const esModules = [
  '@jupyterlab',
  '@jupyter',
  '@lumino',
  '@codemirror',
  '@lezer',
  '@microsoft',
  'exenv-es6',
  'lib0',
  'nanoid',
  'y-protocols',
  'yjs'
].join('|');

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/labextension/src'],
  testRegex: '/__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.[jt]sx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules})/)`]
};
