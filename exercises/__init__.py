"""Your answers (edit these files): one package per chapter."""
