"""Out of office (`/ooo`): an absence on the person's profile, answers for them, a digest.

request.py     the /ooo grammar, and its dates resolved in the person's time zone
service.py     OutOfOffice: the commands, the absence's start and end on the scheduler
effects.py     begin/end: how an absence shows on the profile (the one replaceable part)
following.py   the person's own realtime connection while away, with catch-up
view.py        their rooms and notification preferences, read over that connection
responder.py   what a message for them gets: noted for the digest, answered once
digest.py      the list sent when they are back, with links
model.py       how an absence's dates and texts read
"""
