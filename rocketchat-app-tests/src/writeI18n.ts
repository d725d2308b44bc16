/** Writes ../rocketchat-app/i18n/en.json from the command table (`npm run i18n`). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { i18nEntries } from '../../rocketchat-app/src/i18n';

const target = join(__dirname, '..', '..', '..', '..', 'rocketchat-app', 'i18n', 'en.json');
writeFileSync(target, `${JSON.stringify(i18nEntries(), null, 2)}\n`, 'utf-8');
console.log(`wrote ${target}`);
