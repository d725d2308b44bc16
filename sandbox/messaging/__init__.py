"""Messages, by concern; Rocket.Chat's message functions, whatever the transport.

    system.py         messages the server writes itself: ephemeral notices, system messages
    sending.py        executeSendMessage and the `sendMessage` function: checks, then the save
    fanout.py         afterSaveMessage: thread and subscription counters, the stream, lastMessage
    notifications.py  desktop notifications (`<uid>/notification`) after a save
    edits.py          executeUpdateMessage
    reactions.py      executeSetReaction
    deletion.py       deleteMessage and who may do it
    history.py        which stored messages a room shows, newest first

`system` sits below `sandbox.rooms` (joining a room saves a system message); every other module
here sits above it. This file imports nothing, so importing one piece never loads the others.
"""
