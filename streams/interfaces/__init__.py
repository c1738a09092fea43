"""What people use: the command line, the demo's live terminal view."""
