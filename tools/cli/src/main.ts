// Entry point of the glcert CLI (bin/glcert.js runs its build, dist/main.js; tests run this through tsx).
import { run } from './cli';
import { processIo } from './command';

void run(process.argv.slice(2), processIo).then((code) => {
  process.exitCode = code;
});
