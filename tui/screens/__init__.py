"""The screens of the terminal UI: chat, inspector, trace, session, welcome, and the dialogs."""
