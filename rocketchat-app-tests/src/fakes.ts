/**
 * Hand-made fakes of the Apps-Engine accessors an App receives (IRead, IModify, IHttp,
 * IPersistence, the configuration extenders, the logger), over one small in-memory workspace
 * that records what the App did: messages posted (by whom, where), private notes, modals, rooms
 * opened, commands and settings provided, log lines.
 *
 * The builders are the engine's own (server/accessors/MessageBuilder, RoomBuilder), and the
 * rules the fakes follow are Rocket.Chat's: a direct room is found by its members' usernames
 * (apps/meteor/app/apps/server/bridges/rooms.ts, getDirectByUsernames), opening one with an
 * unknown username fails (createDirectMessage), and a command name already taken throws the
 * engine's CommandAlreadyExistsError (server/managers/AppSlashCommandManager.ts).
 */
import type {
    IAppAccessors,
    IConfigurationExtend,
    IHttp,
    ILogger,
    IMessageBuilder,
    IModify,
    IPersistence,
    IRead,
    IRoomBuilder,
    ISlashCommandsExtend,
} from '@rocket.chat/apps-engine/definition/accessors';
import type { IUIKitSurfaceViewParam } from '@rocket.chat/apps-engine/definition/accessors';
import type { IMessage } from '@rocket.chat/apps-engine/definition/messages';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import { RoomType } from '@rocket.chat/apps-engine/definition/rooms';
import type { IRoom } from '@rocket.chat/apps-engine/definition/rooms';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { ISlashCommand } from '@rocket.chat/apps-engine/definition/slashcommands';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import { CommandAlreadyExistsError } from '@rocket.chat/apps-engine/server/errors';
import { MessageBuilder } from '@rocket.chat/apps-engine/server/accessors/MessageBuilder';
import { RoomBuilder } from '@rocket.chat/apps-engine/server/accessors/RoomBuilder';

import * as appJson from '../../rocketchat-app/app.json';

export const APP_ID = appJson.id;

export interface Posted {
    readonly sender: IUser;
    readonly room: IRoom;
    readonly text: string;
}

export interface Note {
    readonly to: IUser;
    readonly room: IRoom;
    readonly message: IMessage;
}

export interface OpenedView {
    readonly view: IUIKitSurfaceViewParam;
    readonly triggerId: string;
    readonly user: IUser;
}

export interface LogLine {
    readonly level: string;
    readonly text: string;
}

/** A workspace with people, rooms and the App's settings; records what the App did to it. */
export class Workspace {
    public readonly users = new Map<string, IUser>();
    public readonly rooms: Array<IRoom> = [];
    public readonly posted: Array<Posted> = [];
    public readonly notes: Array<Note> = [];
    public readonly views: Array<OpenedView> = [];
    public readonly log: Array<LogLine> = [];
    public readonly settings = new Map<string, unknown>();
    public readonly commands = new Map<string, ISlashCommand>();
    public readonly providedSettings: Array<ISetting> = [];
    /** Names Rocket.Chat itself (or another App) already registered. */
    public readonly takenCommands = new Set<string>(['status', 'help', 'invite', 'me']);
    private nextId = 1;

    constructor() {
        this.person('profilebot');
        this.settings.set('bot_username', 'profilebot');
    }

    /** A user of the workspace (created on first use). */
    public person(username: string): IUser {
        const known = this.users.get(username);
        if (known) {
            return known;
        }
        const user = { id: `user-${username}`, username, name: username } as unknown as IUser;
        this.users.set(username, user);
        return user;
    }

    /** A public channel. */
    public channel(name: string): IRoom {
        return this.addRoom({ type: RoomType.CHANNEL, slugifiedName: name, usernames: [] });
    }

    /** The direct room of exactly these usernames, if one exists. */
    public directRoomOf(usernames: ReadonlyArray<string>): IRoom | undefined {
        const wanted = [...new Set(usernames)].sort().join(',');
        return this.rooms.find(
            (room) => room.type === RoomType.DIRECT_MESSAGE && [...room.usernames].sort().join(',') === wanted,
        );
    }

    public postedIn(room: IRoom): Array<Posted> {
        return this.posted.filter((posted) => posted.room.id === room.id);
    }

    public addRoom(data: Partial<IRoom>): IRoom {
        const room = { id: `room-${this.nextId++}`, ...data } as IRoom;
        this.rooms.push(room);
        return room;
    }

    public read(): IRead {
        return new FakeRead(this) as unknown as IRead;
    }

    public modify(): IModify {
        return new FakeModify(this) as unknown as IModify;
    }

    public http(): IHttp {
        return refuse<IHttp>('http');
    }

    public persistence(): IPersistence {
        return refuse<IPersistence>('persistence');
    }

    public logger(): ILogger {
        const line = (level: string) => (...items: Array<unknown>) => {
            this.log.push({ level, text: items.map(String).join(' ') });
        };
        return {
            debug: line('debug'),
            info: line('info'),
            log: line('log'),
            warn: line('warn'),
            error: line('error'),
            success: line('success'),
        } as unknown as ILogger;
    }

    /** The configuration accessor `extendConfiguration` receives. */
    public configuration(): IConfigurationExtend {
        const slashCommands: Partial<ISlashCommandsExtend> = {
            provideSlashCommand: async (command: ISlashCommand) => {
                const name = command.command.toLowerCase();
                if (this.takenCommands.has(name) || this.commands.has(name)) {
                    throw new CommandAlreadyExistsError(command.command);
                }
                this.commands.set(name, command);
            },
        };
        return {
            slashCommands,
            settings: {
                provideSetting: async (setting: ISetting) => {
                    this.providedSettings.push(setting);
                },
            },
        } as unknown as IConfigurationExtend;
    }

    /** What the engine passes an App's constructor. */
    public appInfo(): IAppInfo {
        return appJson as unknown as IAppInfo;
    }

    public accessors(): IAppAccessors {
        return refuse<IAppAccessors>('app accessors');
    }
}

/** An accessor the App must not use: any call fails the test. */
function refuse<T>(what: string): T {
    return new Proxy(
        {},
        {
            get: (_target, prop) => {
                throw new Error(`the App used ${what}.${String(prop)}, which it has no permission for`);
            },
        },
    ) as T;
}

class FakeRead {
    constructor(private readonly workspace: Workspace) {}

    public getEnvironmentReader() {
        return {
            getSettings: () => ({
                getValueById: async (id: string) => this.workspace.settings.get(id),
            }),
        };
    }

    public getRoomReader() {
        return {
            getDirectByUsernames: async (usernames: Array<string>) => this.workspace.directRoomOf(usernames),
            getById: async (id: string) => this.workspace.rooms.find((room) => room.id === id),
        };
    }
}

class FakeModify {
    constructor(private readonly workspace: Workspace) {}

    public getCreator() {
        return {
            startMessage: (): IMessageBuilder => new MessageBuilder(),
            startRoom: (): IRoomBuilder => new RoomBuilder(),
            finish: async (builder: IMessageBuilder | IRoomBuilder): Promise<string> => {
                if (builder instanceof MessageBuilder) {
                    return this.finishMessage(builder.getMessage());
                }
                if (builder instanceof RoomBuilder) {
                    return this.finishRoom(builder);
                }
                throw new Error('the fake creator finishes messages and rooms only');
            },
        };
    }

    public getNotifier() {
        return {
            getMessageBuilder: (): IMessageBuilder => new MessageBuilder(),
            notifyUser: async (user: IUser, message: IMessage) => {
                this.workspace.notes.push({ to: user, room: message.room, message });
            },
        };
    }

    public getUiController() {
        return {
            openSurfaceView: async (view: IUIKitSurfaceViewParam, context: { triggerId: string }, user: IUser) => {
                this.workspace.views.push({ view, triggerId: context.triggerId, user });
            },
        };
    }

    private finishMessage(message: IMessage): string {
        if (!message.sender?.id) {
            throw new Error('the fake posts messages with a sender only');
        }
        const room = this.workspace.rooms.find((candidate) => candidate.id === message.room.id);
        if (!room) {
            throw new Error(`no room ${message.room.id}`);
        }
        this.workspace.posted.push({ sender: message.sender, room, text: message.text ?? '' });
        return `message-${this.workspace.posted.length}`;
    }

    private finishRoom(builder: IRoomBuilder): string {
        const room = builder.getRoom();
        if (room.type !== RoomType.DIRECT_MESSAGE) {
            throw new Error('the fake opens direct rooms only');
        }
        const usernames = [...new Set([room.creator.username, ...builder.getMembersToBeAddedUsernames()])];
        const unknown = usernames.filter((username) => !this.workspace.users.has(username));
        if (unknown.length) {
            throw new Error('error-invalid-user');
        }
        const existing = this.workspace.directRoomOf(usernames);
        if (existing) {
            return existing.id;
        }
        return this.workspace.addRoom({ type: RoomType.DIRECT_MESSAGE, creator: room.creator, usernames }).id;
    }
}
