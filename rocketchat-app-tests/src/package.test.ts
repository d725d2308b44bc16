/** The App's manifest and translations: only the permissions it uses, texts for every key. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { COMMANDS } from '../../rocketchat-app/src/commands';
import { i18nEntries } from '../../rocketchat-app/src/i18n';

const APP_DIR = join(__dirname, '..', '..', '..', '..', 'rocketchat-app');

function readJson(name: string): Record<string, unknown> {
    return JSON.parse(readFileSync(join(APP_DIR, name), 'utf-8'));
}

describe('the App package', () => {
    it('declares exactly the permissions it uses', () => {
        const manifest = readJson('app.json') as { permissions: Array<{ name: string }> };
        assert.deepEqual(
            manifest.permissions.map((permission) => permission.name).sort(),
            ['message.write', 'room.read', 'room.write', 'slashcommand', 'ui.interact'],
        );
    });

    it('asks for the Apps-Engine API as a caret range of the version it is built with', () => {
        const manifest = readJson('app.json') as { requiredApiVersion: string };
        const pkg = readJson('package.json') as { devDependencies: Record<string, string> };
        const built = pkg.devDependencies['@rocket.chat/apps-engine'].replace(/^[~^]/, '');
        assert.equal(manifest.requiredApiVersion, `^${built}`);
    });

    it('has i18n/en.json equal to the command table (regenerate: npm run i18n)', () => {
        assert.deepEqual(readJson(join('i18n', 'en.json')), i18nEntries());
    });

    it('gives every command a description, and a hint where it takes text', () => {
        for (const spec of COMMANDS) {
            assert.ok(spec.description.length > 0 && spec.description.length <= 90, spec.name);
            if (spec.freeText) {
                assert.match(spec.params, /keeps your text exactly/, spec.name);
            }
        }
    });
});
