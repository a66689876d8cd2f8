"""evsh verify front end."""
