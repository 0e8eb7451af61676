"""Reference answers (read them when you are stuck, after trying): one package per chapter."""
