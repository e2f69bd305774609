"""HTTP app, consumer loops and the process entry point."""
