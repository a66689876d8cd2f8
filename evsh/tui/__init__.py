"""evsh tui front end."""
