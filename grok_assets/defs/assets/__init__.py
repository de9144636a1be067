"""One module per asset, named after its asset key."""
