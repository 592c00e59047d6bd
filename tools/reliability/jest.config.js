// Serial: the fault, security and load-style specs each start the whole stack as processes,
// and two stacks at once on a 2-core machine would only make the timing checks flaky.
module.exports = { ...require('../../jest.preset.js'), displayName: require('./package.json').name, testTimeout: 180000, maxWorkers: 1 };
