/** Rebuilding the command line from Rocket.Chat's split arguments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { commandLine, exactCommandLine } from '../../rocketchat-app/src/commandLine';

describe('command line', () => {
    it('joins plain words with single spaces', () => {
        assert.equal(commandLine('status away', ['At', 'lunch']), '/status away At lunch');
        assert.equal(commandLine('profile', []), '/profile');
    });

    it('quotes again an argument that was quoted (it holds whitespace)', () => {
        assert.equal(commandLine('field', ['location', 'Berlin, Germany']), '/field location "Berlin, Germany"');
        assert.equal(commandLine('bio', ['line\ttab']), '/bio "line\ttab"');
        assert.equal(commandLine('nick', ['']), '/nick ""');
    });

    it('escapes quotes and backslashes inside a quoted argument', () => {
        assert.equal(commandLine('name', ['Al "the pal" \\o/']), '/name "Al \\"the pal\\" \\\\o/"');
    });

    it("leaves a lone apostrophe alone (the bot reads free text as written)", () => {
        assert.equal(commandLine('bio', ["I'm", 'here']), "/bio I'm here");
    });

    it('keeps the text of a box exactly', () => {
        assert.equal(exactCommandLine('bio', ' "x"  y\n'), '/bio  "x"  y\n');
    });
});
