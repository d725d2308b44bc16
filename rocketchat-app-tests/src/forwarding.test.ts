/** Every command reaches the bot as the right text, from the right person, in the right room. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { COMMANDS } from '../../rocketchat-app/src/commands';
import { Harness } from './harness';

/** What a person types (arguments as Rocket.Chat splits them) and what the bot must receive. */
const CASES: Array<[string, Array<string>, string]> = [
    ['bio', ['Platform', 'engineer.'], '/bio Platform engineer.'],
    ['bio', ['clear'], '/bio clear'],
    ['nick', ['Ali'], '/nick Ali'],
    ['name', ['Alice', 'Smith'], '/name Alice Smith'],
    ['field', ['location', 'Berlin, Germany'], '/field location "Berlin, Germany"'],
    ['field', ['team', 'clear'], '/field team clear'],
    ['profile', [], '/profile'],
    ['undo', [], '/undo'],
    ['audit', [], '/audit'],
    ['audit', ['@bob'], '/audit @bob'],
    ['rules', ['off', 'evening-away'], '/rules off evening-away'],
    ['email', ['new@example.com'], '/email new@example.com'],
    ['username', ['ali'], '/username ali'],
    ['ooo', ['until', '2026-12-27', 'Back', 'on', 'Monday'], '/ooo until 2026-12-27 Back on Monday'],
    ['ooo', ['for', '1w'], '/ooo for 1w'],
    ['ooo', ['off'], '/ooo off'],
    ['calendar', ['status'], '/calendar status'],
    ['calendar', ['off'], '/calendar off'],
    ['away', [], '/status away'],
    ['away', ['At', 'lunch'], '/status away At lunch'],
    ['busy', ['In', 'a', 'meeting', 'until', '17:30'], '/status busy In a meeting until 17:30'],
    ['online', [], '/status online'],
    ['offline', ['Gone', 'for', '2h'], '/status offline Gone for 2h'],
    ['mystatus', ['away', 'At', 'lunch', 'for', '1h'], '/status away At lunch for 1h'],
    ['mystatus', ['Back for 2h'], '/status "Back for 2h"'],
    ['mystatus', ['clear'], '/status clear'],
];

describe('forwarding', () => {
    for (const [name, args, expected] of CASES) {
        it(`/${name} ${args.join(' ')} reaches the bot as ${expected}`, async () => {
            const harness = await Harness.start();
            const ws = harness.workspace;
            const alice = ws.person('alice');
            const general = ws.channel('general');

            await harness.run(name, args, alice, general);

            const dm = ws.directRoomOf(['alice', 'profilebot']);
            assert.ok(dm, 'the DM with the bot was opened');
            assert.deepEqual(
                ws.posted.map((posted) => [posted.sender.username, posted.room.id, posted.text]),
                [['alice', dm.id, expected]],
            );
        });
    }

    it('has a case for every command of the table', () => {
        const tested = new Set(CASES.map(([name]) => name));
        const secret = COMMANDS.filter((spec) => spec.delivery.kind === 'secret' && spec.delivery.safe.length === 0);
        const untested = COMMANDS.filter((spec) => !tested.has(spec.name) && !secret.includes(spec));
        assert.deepEqual(untested.map((spec) => spec.name), []);
    });

    it('posts as whoever typed the command, into their own DM with the bot', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const general = ws.channel('general');

        await harness.run('nick', ['Ali'], ws.person('alice'), general);
        await harness.run('nick', ['Bobby'], ws.person('bob'), general);

        const alices = ws.directRoomOf(['alice', 'profilebot']);
        const bobs = ws.directRoomOf(['bob', 'profilebot']);
        assert.ok(alices && bobs && alices.id !== bobs.id);
        assert.deepEqual(ws.postedIn(alices).map((p) => [p.sender.username, p.text]), [['alice', '/nick Ali']]);
        assert.deepEqual(ws.postedIn(bobs).map((p) => [p.sender.username, p.text]), [['bob', '/nick Bobby']]);
    });

    it('uses the DM that exists and opens none twice', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const existing = ws.addRoom({ type: 'd' as never, usernames: ['profilebot', 'alice'] });

        await harness.run('profile', [], alice, ws.channel('general'));
        await harness.run('undo', [], alice, existing);

        assert.equal(ws.rooms.filter((room) => room.type === 'd').length, 1);
        assert.deepEqual(ws.postedIn(existing).map((p) => p.text), ['/profile', '/undo']);
    });

    it('tells the person privately where the answer is when they typed elsewhere', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const general = ws.channel('general');

        await harness.run('bio', ['Hello'], alice, general);

        assert.equal(ws.notes.length, 1);
        assert.equal(ws.notes[0].to.username, 'alice');
        assert.equal(ws.notes[0].room.id, general.id);
        assert.match(ws.notes[0].message.text ?? '', /Sent `\/bio Hello` to @profilebot/);
    });

    it('adds no note when the command was typed in the DM with the bot', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const dm = ws.addRoom({ type: 'd' as never, usernames: ['alice', 'profilebot'] });

        await harness.run('away', ['Lunch'], alice, dm);

        assert.deepEqual(ws.postedIn(dm).map((p) => p.text), ['/status away Lunch']);
        assert.deepEqual(ws.notes, []);
    });

    it("takes the bot's username from the App setting", async () => {
        const harness = await Harness.start((ws) => {
            ws.person('rcbot');
            ws.settings.set('bot_username', ' @rcbot ');
        });
        const ws = harness.workspace;

        await harness.run('busy', [], ws.person('alice'), ws.channel('general'));

        const dm = ws.directRoomOf(['alice', 'rcbot']);
        assert.ok(dm);
        assert.deepEqual(ws.postedIn(dm).map((p) => p.text), ['/status busy']);
        assert.equal(ws.directRoomOf(['alice', 'profilebot']), undefined);
    });

    it('says so privately, and posts nothing, when the bot username is not set', async () => {
        const harness = await Harness.start((ws) => ws.settings.set('bot_username', ''));
        const ws = harness.workspace;

        await harness.run('nick', ['Ali'], ws.person('alice'), ws.channel('general'));

        assert.deepEqual(ws.posted, []);
        assert.equal(ws.notes.length, 1);
        assert.match(ws.notes[0].message.text ?? '', /does not know the bot's username/);
    });

    it('says so privately, and posts nothing, when the bot account does not exist', async () => {
        const harness = await Harness.start((ws) => ws.settings.set('bot_username', 'nobody'));
        const ws = harness.workspace;

        await harness.run('nick', ['Ali'], ws.person('alice'), ws.channel('general'));

        assert.deepEqual(ws.posted, []);
        assert.match(ws.notes[0].message.text ?? '', /could not open your direct messages with @nobody/);
        assert.ok(ws.log.some((line) => line.level === 'warn' && line.text.includes('/nick')));
    });
});
