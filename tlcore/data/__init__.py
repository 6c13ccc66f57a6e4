"""Data: a folder, zip or upload -> scan -> split -> decoded pixel arrays (cached once).

May import only the shared top-level modules (errors, config, fsutil, workspace, registry).
"""
