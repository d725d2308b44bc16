/** /token, /password and /calendar set: no secret is ever taken as a slash command argument. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Harness } from './harness';

/** Arguments a person might type; every word here stands for a secret. */
const SECRET_USES: Array<[string, Array<string>]> = [
    ['token', ['set', 'Xq9-tok3n-SECRET']],
    ['token', ['Xq9-tok3n-SECRET']],
    ['token', []],
    ['token', ['status']],
    ['password', ['hunter2-SECRET']],
    ['password', ['hunter2-SECRET', 'hunter2-SECRET']],
    ['password', []],
    ['calendar', ['set', 'https://cal.example.com/private/SECRET.ics']],
    ['calendar', ['https://cal.example.com/private/SECRET.ics']],
    ['calendar', ['status', 'https://cal.example.com/private/SECRET.ics']],
    ['calendar', []],
];

/** What each command tells the person to send in the DM instead. */
const TOLD: Record<string, string> = {
    token: '`/token set <token>`',
    password: '`/password`',
    calendar: '`/calendar set <ICS URL>`',
};

describe('secrets', () => {
    for (const [name, args] of SECRET_USES) {
        it(`/${name} ${args.join(' ')} forwards nothing and points to the DM`, async () => {
            const harness = await Harness.start();
            const ws = harness.workspace;
            const alice = ws.person('alice');
            const general = ws.channel('general');

            await harness.run(name, args, alice, general);

            assert.deepEqual(ws.posted, [], 'nothing is posted anywhere');
            assert.deepEqual(ws.views, []);
            assert.ok(ws.directRoomOf(['alice', 'profilebot']), 'the DM with the bot is opened');
            assert.equal(ws.notes.length, 1);
            const [note] = ws.notes;
            assert.equal(note.to.username, 'alice');
            assert.equal(note.room.id, general.id);
            assert.ok(note.message.text?.includes(TOLD[name]), note.message.text);
            assert.ok(note.message.text?.includes('@profilebot'));
            const said = JSON.stringify([ws.notes, ws.log, ws.rooms]);
            assert.ok(!said.includes('SECRET'), 'the argument is repeated nowhere');
        });
    }

    it('forwards the harmless /calendar status and /calendar off only', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const general = ws.channel('general');

        await harness.run('calendar', ['status'], alice, general);
        await harness.run('calendar', ['OFF'], alice, general);

        assert.deepEqual(ws.posted.map((p) => p.text), ['/calendar status', '/calendar OFF']);
    });

    it('opens no box for the secret commands', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;

        for (const name of ['token', 'password', 'calendar']) {
            await harness.run(name, [], ws.person('alice'), ws.channel('general'));
        }

        assert.deepEqual(ws.views, []);
    });
});
