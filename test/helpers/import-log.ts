// `node --import …/import-log.js`: registers import-log-hooks.js for the whole process.
import { register } from 'node:module';

register('./import-log-hooks.js', import.meta.url);
