"""evsh shell front end."""
