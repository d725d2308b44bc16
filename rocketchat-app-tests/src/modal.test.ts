/** Free-text commands: alone they open a box, and the box's text reaches the bot exactly. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TEXT_ACTION, TEXT_BLOCK } from '../../rocketchat-app/src/textModal';
import { Harness } from './harness';

function boxState(text: string): object {
    return { [TEXT_BLOCK]: { [TEXT_ACTION]: text } };
}

/** Open `name`'s box as alice from #general and send `text` with it; the harness afterwards. */
async function sendThroughBox(name: string, text: string): Promise<Harness> {
    const harness = await Harness.start();
    const ws = harness.workspace;
    const alice = ws.person('alice');
    await harness.run(name, [], alice, ws.channel('general'));
    assert.equal(ws.views.length, 1, 'a box was opened');
    assert.deepEqual(ws.posted, [], 'nothing is sent before the box is');
    const response = await harness.submit(ws.views[0].view.id ?? '', boxState(text), alice);
    assert.equal(response.success, true);
    return harness;
}

describe('the text box of free-text commands', () => {
    it('opens for /bio alone, for the person, with the trigger of their command', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');

        await harness.run('bio', [], alice, ws.channel('general'));

        assert.equal(ws.views.length, 1);
        const [opened] = ws.views;
        assert.equal(opened.user.username, 'alice');
        assert.match(opened.triggerId, /^trigger-/);
        assert.equal(opened.view.id, 'rcbot-text/bio');
        assert.equal(opened.view.title.text, '/bio');
    });

    it("takes several lines for a bio and one for a status or out-of-office text", async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        for (const name of ['bio', 'mystatus', 'ooo']) {
            await harness.run(name, [], ws.person('alice'), ws.channel('general'));
        }

        const multiline = ws.views.map((opened) => {
            const [input] = opened.view.blocks as Array<{ element: { multiline?: boolean } }>;
            return [opened.view.id, input.element.multiline];
        });
        assert.deepEqual(multiline, [
            ['rcbot-text/bio', true],
            ['rcbot-text/mystatus', false],
            ['rcbot-text/ooo', false],
        ]);
    });

    const EXACT: Array<[string, string, string]> = [
        ['bio', "I'm Bob's friend", "/bio I'm Bob's friend"],
        ['bio', 'Line one\n  "Line" two', '/bio Line one\n  "Line" two'],
        ['mystatus', 'away "Back" for 2h, maybe', '/status away "Back" for 2h, maybe'],
        ['ooo', "until 2026-12-27 Christmas; I'm back on the 28th", "/ooo until 2026-12-27 Christmas; I'm back on the 28th"],
    ];
    for (const [name, text, expected] of EXACT) {
        it(`sends /${name}'s text exactly: ${JSON.stringify(text)}`, async () => {
            const harness = await sendThroughBox(name, text);
            const ws = harness.workspace;
            const dm = ws.directRoomOf(['alice', 'profilebot']);
            assert.ok(dm);
            assert.deepEqual(
                ws.posted.map((p) => [p.sender.username, p.room.id, p.text]),
                [['alice', dm.id, expected]],
            );
        });
    }

    it('refuses an empty box with an error on the field, and sends nothing', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');

        const response = await harness.submit('rcbot-text/bio', boxState('  \n '), alice);

        assert.equal(response.success, false);
        assert.ok('errors' in response && (response as { errors: Record<string, string> }).errors[TEXT_BLOCK]);
        assert.deepEqual(ws.posted, []);
    });

    it('ignores views that are not its boxes', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;
        const alice = ws.person('alice');

        for (const viewId of ['some-other-view', 'rcbot-text/nick', 'rcbot-text/token', 'rcbot-text/']) {
            const response = await harness.submit(viewId, boxState('x'), alice);
            assert.equal(response.success, true);
        }
        assert.deepEqual(ws.posted, []);
    });

    it('forwards what was typed when the free-text command has arguments', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;

        await harness.run('bio', ['Platform', 'engineer'], ws.person('alice'), ws.channel('general'));

        assert.deepEqual(ws.views, []);
        assert.deepEqual(ws.posted.map((p) => p.text), ['/bio Platform engineer']);
    });

    it('forwards the bare command when the client gave no trigger to open a box with', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;

        await harness.run('ooo', [], ws.person('alice'), ws.channel('general'), false);

        assert.deepEqual(ws.views, []);
        assert.deepEqual(ws.posted.map((p) => p.text), ['/ooo']);
    });

    it('opens no box for commands that are not free text', async () => {
        const harness = await Harness.start();
        const ws = harness.workspace;

        await harness.run('nick', [], ws.person('alice'), ws.channel('general'));

        assert.deepEqual(ws.views, []);
        assert.deepEqual(ws.posted.map((p) => p.text), ['/nick']);
    });
});
