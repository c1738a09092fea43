"""The Faust topology: the app, its topics and tables, and the one agent that runs the engine."""
