/** Forwarding a command line to the bot: posted as the person into their DM with the bot. */
import type { IModify, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IRoom } from '@rocket.chat/apps-engine/definition/rooms';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';

import { botUsername, directRoom, postAs } from './botDirect';

export interface Forwarded {
    /** The bot's username. */
    readonly bot: string;
    /** The person's direct messages with the bot. */
    readonly room: IRoom;
}

/** Open the person's DM with the bot (when needed) and say `text` there as the person. */
export async function forward(person: IUser, text: string, read: IRead, modify: IModify): Promise<Forwarded> {
    const bot = await botUsername(read);
    const room = await directRoom(person, bot, read, modify);
    await postAs(person, room, text, modify);
    return { bot, room };
}
