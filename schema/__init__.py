"""Strawberry declarations: types, inputs, enums and the Schema. Fields delegate
to resolvers/; leaf types (``*_types`` and ``common``) import nothing from there."""
