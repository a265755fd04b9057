"""What each field does: read arguments, pick loaders, shape results."""
