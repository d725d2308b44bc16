"""Team automation: rules from the configuration, the scheduler and the message triggers.

`model` holds the configuration models (imported by bot.config, so it imports nothing of the
runtime); `schedule` the timetable and the scheduler on the injected clock; `members` who is
in a room; `engine` what a rule does when it fires; `runtime` the wiring for ProfileBot.
"""
