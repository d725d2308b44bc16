/**
 * The App's side of its contract with the bot (../contract.json): what a person does with a
 * command is posted, as them, into their DM with the bot as exactly these texts. The bot's side
 * (tests/e2e/test_app_contract.py) posts the same texts to the bot and checks its answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { TEXT_ACTION, TEXT_BLOCK } from '../../rocketchat-app/src/textModal';
import { Harness } from './harness';

interface ContractCase {
    command: string;
    args?: Array<string>;
    box?: string;
    click?: 'yes' | 'no';
    posts: Array<string>;
    tells?: string;
}

const CONTRACT_FILE = join(__dirname, '..', '..', '..', 'contract.json');
const contract = JSON.parse(readFileSync(CONTRACT_FILE, 'utf-8')) as Record<string, ContractCase | string>;

describe('contract with the bot', () => {
    for (const [name, entry] of Object.entries(contract)) {
        if (typeof entry === 'string') {
            continue;
        }
        it(`${name}: /${entry.command} posts ${JSON.stringify(entry.posts)}`, async () => {
            const harness = await Harness.start();
            const ws = harness.workspace;
            const alice = ws.person('alice');
            const general = ws.channel('general');

            await harness.run(entry.command, entry.args ?? [], alice, general);
            if (entry.box !== undefined) {
                const [opened] = ws.views;
                await harness.submit(opened.view.id ?? '', { [TEXT_BLOCK]: { [TEXT_ACTION]: entry.box } }, alice);
            }
            if (entry.click) {
                await harness.click(harness.lastButtons()[entry.click], alice, general);
            }

            const dm = ws.directRoomOf(['alice', 'profilebot']);
            assert.ok(dm);
            assert.deepEqual(
                ws.posted.map((p) => [p.sender.username, p.room.id, p.text]),
                entry.posts.map((text) => ['alice', dm.id, text]),
            );
            if (entry.tells) {
                assert.ok(ws.notes.some((note) => note.message.text?.includes(`\`${entry.tells}\``)));
            }
        });
    }
});
