/**
 * Yes/No buttons for the bot's question about a sensitive change (`/email`, `/username`).
 *
 * The buttons are shown to the person only (a notification, never stored); a click reaches the
 * bot as the person's answer, "yes" or "no", in their direct messages with it, so the bot's
 * conversation decides what the answer means. The block id names the person and the time the
 * question was asked: a click by anyone else, or on buttons older than the bot waits for an
 * answer, is not passed on, and each set of buttons answers once.
 */
import type { ActionsBlock, ButtonElement } from '@rocket.chat/ui-kit';

export const CONFIRM_PREFIX = 'rcbot-confirm';
export const ANSWERS = ['yes', 'no'] as const;
export type Answer = (typeof ANSWERS)[number];

/** How long buttons stay good: the bot's default `conversation_timeout` (300 s). */
export const ANSWER_WINDOW_MS = 5 * 60 * 1000;

/** The actions block with a Yes and a No button for `personId`, asked at `askedAt`. */
export function confirmBlock(appId: string, personId: string, askedAt: Date): ActionsBlock {
    const blockId = [CONFIRM_PREFIX, personId, askedAt.getTime().toString(36)].join('/');
    const button = (answer: Answer, label: string, style: 'primary' | 'danger'): ButtonElement => ({
        type: 'button',
        appId,
        blockId,
        actionId: `${CONFIRM_PREFIX}-${answer}`,
        value: answer,
        style,
        text: { type: 'plain_text', text: label, emoji: false },
    });
    return {
        type: 'actions',
        appId,
        blockId,
        elements: [button('yes', 'Yes', 'primary'), button('no', 'No', 'danger')],
    };
}

export type Click =
    | { readonly kind: 'answer'; readonly answer: Answer }
    | { readonly kind: 'expired' }
    | { readonly kind: 'ignore' };

/** What a click on `blockId` with `value` by `clickerId` at `now` means. */
export function readClick(blockId: string, value: string | undefined, clickerId: string, now: Date): Click {
    const [prefix, personId, askedAt, ...rest] = blockId.split('/');
    const answer = ANSWERS.find((candidate) => candidate === value);
    if (prefix !== CONFIRM_PREFIX || rest.length || !personId || !askedAt || !answer) {
        return { kind: 'ignore' };
    }
    if (personId !== clickerId) {
        return { kind: 'ignore' };
    }
    const age = now.getTime() - parseInt(askedAt, 36);
    if (!(age >= 0 && age <= ANSWER_WINDOW_MS)) {
        return { kind: 'expired' };
    }
    return { kind: 'answer', answer };
}

/**
 * Remembers which buttons were answered, so a second click sends nothing. Only buttons still in
 * their answer window are kept: older ones are refused by their age anyway.
 */
export class AnsweredButtons {
    private readonly answered = new Map<string, number>();

    /** True the first time `blockId` is answered at `now`, false after that. */
    public claim(blockId: string, now: Date): boolean {
        for (const [id, at] of this.answered) {
            if (now.getTime() - at > ANSWER_WINDOW_MS) {
                this.answered.delete(id);
            }
        }
        if (this.answered.has(blockId)) {
            return false;
        }
        this.answered.set(blockId, now.getTime());
        return true;
    }
}
