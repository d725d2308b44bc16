/** Registering the commands: a name clash is skipped and logged, never fatal to the App. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { COMMANDS } from '../../rocketchat-app/src/commands';
import { Harness } from './harness';

const ALL = COMMANDS.map((spec) => spec.name);

describe('registration', () => {
    it('registers every command of the table, and never /status', async () => {
        const harness = await Harness.start();

        assert.deepEqual([...harness.workspace.commands.keys()].sort(), [...ALL].sort());
        assert.ok(!ALL.includes('status'), "Rocket.Chat owns /status: the App must not need it");
    });

    it('skips a name the workspace already has, logs it, and registers the rest', async () => {
        const harness = await Harness.start((ws) => {
            ws.takenCommands.add('away');
            ws.takenCommands.add('profile');
        });
        const ws = harness.workspace;

        const expected = ALL.filter((name) => name !== 'away' && name !== 'profile');
        assert.deepEqual([...ws.commands.keys()].sort(), [...expected].sort());
        const warnings = ws.log.filter((line) => line.level === 'warn').map((line) => line.text);
        assert.equal(warnings.length, 2);
        assert.ok(warnings.some((text) => text.includes('/away')));
        assert.ok(warnings.some((text) => text.includes('/profile')));
    });

    it('survives the clash as the Deno runtime reports it (a plain Error with the message)', async () => {
        const harness = await Harness.start((ws) => {
            const configuration = ws.configuration();
            ws.configuration = () => {
                const provide = configuration.slashCommands.provideSlashCommand.bind(configuration.slashCommands);
                configuration.slashCommands.provideSlashCommand = async (command) => {
                    if (command.command === 'busy') {
                        throw new Error('The command "busy" already exists in the system.');
                    }
                    return provide(command);
                };
                return configuration;
            };
        });

        assert.ok(!harness.workspace.commands.has('busy'));
        assert.equal(harness.workspace.commands.size, ALL.length - 1);
    });

    it('does not hide other registration errors', async () => {
        await assert.rejects(
            Harness.start((ws) => {
                const configuration = ws.configuration();
                ws.configuration = () => {
                    configuration.slashCommands.provideSlashCommand = async () => {
                        throw new Error('database is down');
                    };
                    return configuration;
                };
            }),
            /database is down/,
        );
    });

    it("provides the bot's username as a setting, profilebot by default", async () => {
        const harness = await Harness.start();

        const [setting] = harness.workspace.providedSettings;
        assert.equal(setting.id, 'bot_username');
        assert.equal(setting.packageValue, 'profilebot');
        assert.equal(setting.required, true);
    });

    it('describes each command with a key of its own and no preview', async () => {
        const harness = await Harness.start();

        for (const command of harness.workspace.commands.values()) {
            assert.equal(command.i18nDescription, `${command.command}_description`);
            assert.equal(command.providesPreview, false);
        }
    });
});
