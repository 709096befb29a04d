"""The CLI door (`shopkeeper`): the same use cases for a person at a terminal or a script."""
