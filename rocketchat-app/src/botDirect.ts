/**
 * The person's direct messages with the bot: found or opened, written to as the person, and the
 * App's private notes to the person.
 */
import type { IModify, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import { RoomType } from '@rocket.chat/apps-engine/definition/rooms';
import type { IRoom } from '@rocket.chat/apps-engine/definition/rooms';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import type { LayoutBlock } from '@rocket.chat/ui-kit';

/** The App setting that names the bot's account. */
export const BOT_USERNAME_SETTING = 'bot_username';

/** Something the person should be told instead of what they asked for. */
export class NotReachable extends Error {}

/** The bot's username from the App's settings, without a leading `@`. */
export async function botUsername(read: IRead): Promise<string> {
    const value = await read.getEnvironmentReader().getSettings().getValueById(BOT_USERNAME_SETTING);
    const username = String(value ?? '').trim().replace(/^@/, '');
    if (!username) {
        throw new NotReachable(
            "This App does not know the bot's username yet: ask an admin to set it under " +
                'Administration → Apps → rcbot commands → Settings.',
        );
    }
    return username;
}

/** The 1:1 room of `person` and `bot`, opened as the person when there is none yet. */
export async function directRoom(
    person: IUser,
    bot: string,
    read: IRead,
    modify: IModify,
): Promise<IRoom> {
    const rooms = read.getRoomReader();
    const existing = await rooms.getDirectByUsernames([person.username, bot]);
    if (existing) {
        return existing;
    }
    const builder = modify
        .getCreator()
        .startRoom()
        .setType(RoomType.DIRECT_MESSAGE)
        .setCreator(person)
        .setMembersToBeAddedByUsernames([person.username, bot]);
    let roomId: string;
    try {
        roomId = await modify.getCreator().finish(builder);
    } catch (error) {
        throw new NotReachable(
            `I could not open your direct messages with @${bot}: does that account exist? ` +
                'Ask an admin to check the App\'s "Bot username" setting.',
        );
    }
    const room = await rooms.getById(roomId);
    if (!room) {
        throw new NotReachable(`I could not open your direct messages with @${bot}.`);
    }
    return room;
}

/** Post `text` into `room` as `person`: the bot sees the person as the sender. */
export async function postAs(person: IUser, room: IRoom, text: string, modify: IModify): Promise<void> {
    const message = modify.getCreator().startMessage().setSender(person).setRoom(room).setText(text);
    await modify.getCreator().finish(message);
}

/** A message in `room` that only `person` sees (not stored), optionally with blocks. */
export async function tellPrivately(
    person: IUser,
    room: IRoom,
    text: string,
    modify: IModify,
    blocks?: Array<LayoutBlock>,
): Promise<void> {
    const notifier = modify.getNotifier();
    const message = notifier.getMessageBuilder().setRoom(room).setText(text);
    if (blocks) {
        message.setBlocks(blocks);
    }
    await notifier.notifyUser(person, message.getMessage());
}
