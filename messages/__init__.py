"""Catalogs (ar, fr, en), GSM-7/UCS-2 segments, subscribers and campaigns."""
