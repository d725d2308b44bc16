/** /email and /username: Yes/No buttons for the person only, relayed as their answer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ANSWER_WINDOW_MS, confirmBlock, readClick } from '../../rocketchat-app/src/confirmButtons';
import { APP_ID } from './fakes';
import { Harness } from './harness';

async function askedForEmail(): Promise<Harness> {
    const harness = await Harness.start();
    const ws = harness.workspace;
    await harness.run('email', ['new@example.com'], ws.person('alice'), ws.channel('general'));
    return harness;
}

describe('confirmation buttons', () => {
    for (const name of ['email', 'username']) {
        it(`/${name} forwards the command, then shows Yes/No to the person only`, async () => {
            const harness = await Harness.start();
            const ws = harness.workspace;
            const alice = ws.person('alice');
            const general = ws.channel('general');

            await harness.run(name, ['new-value'], alice, general);

            assert.deepEqual(ws.posted.map((p) => p.text), [`/${name} new-value`]);
            assert.equal(ws.notes.length, 1);
            const [note] = ws.notes;
            assert.equal(note.to.username, 'alice');
            assert.equal(note.room.id, general.id);
            assert.match(note.message.text ?? '', /@profilebot asks you/);
            const { yes, no } = harness.lastButtons();
            assert.equal(yes.appId, APP_ID, 'a click must reach this App');
            assert.equal(no.appId, APP_ID);
            assert.equal(yes.text.text, 'Yes');
            assert.equal(no.text.text, 'No');
        });
    }

    for (const answer of ['yes', 'no'] as const) {
        it(`a click on ${answer} posts "${answer}" as the person into their DM with the bot`, async () => {
            const harness = await askedForEmail();
            const ws = harness.workspace;
            const alice = ws.person('alice');
            const buttons = harness.lastButtons();

            const response = await harness.click(buttons[answer], alice, ws.channel('general'));

            assert.equal(response.success, true);
            const dm = ws.directRoomOf(['alice', 'profilebot']);
            assert.ok(dm);
            assert.deepEqual(
                ws.postedIn(dm).map((p) => [p.sender.username, p.text]),
                [['alice', '/email new@example.com'], ['alice', answer]],
            );
        });
    }

    it("ignores someone else's click", async () => {
        const harness = await askedForEmail();
        const ws = harness.workspace;
        const mallory = ws.person('mallory');
        const notesBefore = ws.notes.length;

        await harness.click(harness.lastButtons().yes, mallory, ws.channel('general'));

        assert.deepEqual(ws.posted.map((p) => p.text), ['/email new@example.com']);
        assert.equal(ws.directRoomOf(['mallory', 'profilebot']), undefined);
        assert.equal(ws.notes.length, notesBefore);
    });

    it('answers once: a second click sends nothing more', async () => {
        const harness = await askedForEmail();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const { yes, no } = harness.lastButtons();

        await harness.click(yes, alice, ws.channel('general'));
        await harness.click(yes, alice, ws.channel('general'));
        await harness.click(no, alice, ws.channel('general'));

        assert.deepEqual(ws.posted.map((p) => p.text), ['/email new@example.com', 'yes']);
    });

    it('refuses buttons older than the bot waits for an answer, and says so', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');
        const general = ws.channel('general');
        const old = new Date(Date.now() - ANSWER_WINDOW_MS - 60_000);
        const [yes] = confirmBlock(APP_ID, alice.id, old).elements as ReadonlyArray<never>;

        await harness.click(yes, alice, general);

        assert.deepEqual(ws.posted, []);
        assert.match(ws.notes[0].message.text ?? '', /expired/);
    });

    it('ignores a click whose value is neither yes nor no', async () => {
        const harness = await askedForEmail();
        const ws = harness.workspace;

        await harness.click(harness.lastButtons().yes, ws.person('alice'), ws.channel('general'), 'yes please');

        assert.deepEqual(ws.posted.map((p) => p.text), ['/email new@example.com']);
    });

    it('shows no buttons when there is nothing to confirm (no new value given)', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;

        await harness.run('username', [], ws.person('alice'), ws.channel('general'));

        assert.deepEqual(ws.posted.map((p) => p.text), ['/username']);
        assert.ok(ws.notes.every((note) => !note.message.blocks?.length));
    });

    it('reads a click by its block id: person, time and answer', () => {
        const askedAt = new Date('2026-12-04T10:00:00Z');
        const yes = { blockId: String(confirmBlock(APP_ID, 'user-alice', askedAt).blockId) };
        const inWindow = new Date(askedAt.getTime() + ANSWER_WINDOW_MS);
        const late = new Date(askedAt.getTime() + ANSWER_WINDOW_MS + 1);
        const before = new Date(askedAt.getTime() - 1);

        assert.deepEqual(readClick(yes.blockId, 'yes', 'user-alice', inWindow), { kind: 'answer', answer: 'yes' });
        assert.deepEqual(readClick(yes.blockId, 'no', 'user-alice', askedAt), { kind: 'answer', answer: 'no' });
        assert.deepEqual(readClick(yes.blockId, 'yes', 'user-alice', late), { kind: 'expired' });
        assert.deepEqual(readClick(yes.blockId, 'yes', 'user-alice', before), { kind: 'expired' });
        assert.deepEqual(readClick(yes.blockId, 'yes', 'user-bob', inWindow), { kind: 'ignore' });
        assert.deepEqual(readClick(`${yes.blockId}/x`, 'yes', 'user-alice', inWindow), { kind: 'ignore' });
        assert.deepEqual(readClick('other-app-block', 'yes', 'user-alice', inWindow), { kind: 'ignore' });
    });
});
