"""The gateway process: settings, app factory, CLI, auth and health."""
