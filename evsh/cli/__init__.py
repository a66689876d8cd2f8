"""The command line: click commands that call the engine and render its results."""
